import type { StepView } from "../api.ts";

/** The step the view concerns: the method named for changePin / enrol / blocked, else the first not done. */
export const currentStepIndex = (view: StepView): number => {
  if (view.method) {
    const i = view.steps.findIndex((s) => s.type === view.method && !s.done);
    if (i >= 0) return i;
  }
  const i = view.steps.findIndex((s) => !s.done);
  return i >= 0 ? i : view.steps.length - 1;
};

/**
 * "Step 2 of 3: Badge". Before the PIN is accepted the total is not known to the page (the server
 * shows the rest of the set only after the PIN), so it says "Step 1: PIN" and never a false "of 1".
 */
export const progressText = (view: StepView): string => {
  const i = currentStepIndex(view);
  const step = view.steps[i];
  if (!step) return "";
  return view.laterStepsHidden
    ? `Step ${i + 1}: ${step.label}`
    : `Step ${i + 1} of ${view.steps.length}: ${step.label}`;
};

/** "Step 2 of 3: Badge", with the whole authentication set listed and the finished steps ticked. */
export const StepProgress = ({ view }: { view: StepView }) => {
  const current = currentStepIndex(view);
  if (view.steps.length === 0) return null;
  return (
    <nav className="progress" aria-label="Sign-in progress">
      <p className="progress-text" data-testid="step-progress">
        {progressText(view)}
      </p>
      {view.laterStepsHidden && (
        <p className="hint" data-testid="later-steps">
          If your organisation asks for more than a PIN, the next steps appear after it.
        </p>
      )}
      {view.steps.length > 1 && (
        <ol className="progress-steps">
          {view.steps.map((step, i) => (
            <li
              key={step.type}
              className={step.done ? "done" : i === current ? "current" : "todo"}
              aria-current={i === current ? "step" : undefined}
            >
              <span className="progress-dot" aria-hidden="true">
                {step.done ? "✓" : i + 1}
              </span>
              <span>
                {step.label}
                {step.done && <span className="sr-only"> (done)</span>}
              </span>
            </li>
          ))}
        </ol>
      )}
    </nav>
  );
};
