import { type ReactNode, useEffect, useId, useRef } from "react";

interface ConfirmDialogProps {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  busy?: boolean;
  /** After a refusal there is nothing to confirm: only Close remains. */
  hideConfirm?: boolean;
  onConfirm(): void;
  onCancel(): void;
}

/** A modal question (native <dialog>: focus stays inside, Escape cancels). Cancel has the focus first. */
export const ConfirmDialog = ({
  open,
  title,
  children,
  confirmLabel,
  danger = false,
  busy = false,
  hideConfirm = false,
  onConfirm,
  onCancel,
}: ConfirmDialogProps) => {
  const ref = useRef<HTMLDialogElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      dialog.showModal();
      cancel.current?.focus();
    }
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onCancel();
      }}
    >
      <h2 id={titleId} className="h3">
        {title}
      </h2>
      <div className="stack">{children}</div>
      <div className="actions">
        <button ref={cancel} type="button" className="btn" onClick={onCancel}>
          {hideConfirm ? "Close" : "Cancel"}
        </button>
        {!hideConfirm && (
          <button
            type="button"
            className={`btn ${danger ? "btn-danger" : "btn-primary"}`}
            onClick={onConfirm}
            disabled={busy}
          >
            {busy ? "Working…" : confirmLabel}
          </button>
        )}
      </div>
    </dialog>
  );
};
