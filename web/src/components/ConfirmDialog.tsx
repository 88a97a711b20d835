import { type ReactNode, useRef } from "react";
import { Modal } from "./Modal.tsx";

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
  const cancel = useRef<HTMLButtonElement>(null);
  return (
    <Modal open={open} title={title} onClose={onCancel} initialFocus={cancel}>
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
    </Modal>
  );
};
