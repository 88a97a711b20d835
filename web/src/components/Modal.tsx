import { type ReactNode, type RefObject, useEffect, useId, useRef } from "react";

/**
 * A modal (native <dialog>: focus stays inside, Escape closes). Its content exists only while open,
 * so a reopened dialog starts fresh; `initialFocus` is focused when it opens.
 */
export const Modal = ({
  open,
  title,
  onClose,
  initialFocus,
  children,
}: {
  open: boolean;
  title: string;
  onClose(): void;
  initialFocus?: RefObject<HTMLElement | null>;
  children: ReactNode;
}) => {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      dialog.showModal();
      initialFocus?.current?.focus();
    }
    if (!open && dialog.open) dialog.close();
  }, [open, initialFocus]);
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <h2 id={titleId} className="h3">
        {title}
      </h2>
      {open && children}
    </dialog>
  );
};
