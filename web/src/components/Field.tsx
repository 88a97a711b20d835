import { forwardRef, type InputHTMLAttributes, type ReactNode, useId } from "react";

interface FieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, "id"> {
  label: ReactNode;
  hint?: ReactNode;
  /** Shown under the field and announced with it; marks the field invalid. */
  problem?: string | undefined;
  /** Extra element ids describing the field (e.g. a live checklist). */
  describedBy?: string;
}

/** A labelled input with its hint and problem tied to it for assistive technology. */
export const Field = forwardRef<HTMLInputElement, FieldProps>(
  ({ label, hint, problem, describedBy, className, ...input }, ref) => {
    const id = useId();
    const hintId = `${id}-hint`;
    const problemId = `${id}-problem`;
    const described = [hint ? hintId : "", problem ? problemId : "", describedBy ?? ""]
      .filter(Boolean)
      .join(" ");
    return (
      <div className={`field${className ? ` ${className}` : ""}`}>
        <label htmlFor={id}>{label}</label>
        {hint && (
          <p className="hint" id={hintId}>
            {hint}
          </p>
        )}
        <input
          ref={ref}
          id={id}
          aria-describedby={described || undefined}
          aria-invalid={problem ? true : undefined}
          {...input}
        />
        {problem && (
          <p className="field-problem" id={problemId}>
            {problem}
          </p>
        )}
      </div>
    );
  },
);
Field.displayName = "Field";
