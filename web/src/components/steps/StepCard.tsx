import { createContext, type ReactNode, useContext, useEffect, useRef } from "react";
import type { ApiError, StepView } from "../../api.ts";

export interface StepProps {
  view: StepView;
  onView(view: StepView): void;
}

/** One sign-in step. Steps without a field take the focus on their heading, so the next thing is read out. */
export const StepCard = ({
  title,
  children,
  focusHeading = false,
  testId,
}: {
  title: string;
  children: ReactNode;
  focusHeading?: boolean;
  testId?: string;
}) => {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (focusHeading) heading.current?.focus();
  }, [focusHeading]);
  return (
    <section className="step" data-testid={testId} aria-labelledby={testId ? `${testId}-title` : undefined}>
      <h2 ref={heading} tabIndex={-1} className="h2" id={testId ? `${testId}-title` : undefined}>
        {title}
      </h2>
      {children}
    </section>
  );
};

/** Lets a step offer "Start again" when the pending sign-in is gone (expired after 10 minutes, or out of step). */
export const StartAgainContext = createContext<(() => void) | undefined>(undefined);

const RESTART_CODES = [
  "notSignedIn",
  "signInStepNotExpected",
  "signInStepUsed",
  "methodAlreadyEnrolled",
  "pushDenied",
  "recoveryLinkInvalid",
];

export const RestartIfNeeded = ({ error }: { error: ApiError | undefined }) => {
  const startAgain = useContext(StartAgainContext);
  if (!error || !startAgain || !RESTART_CODES.includes(error.code)) return null;
  return (
    <div className="actions">
      <button type="button" className="btn btn-primary" onClick={startAgain}>
        Start again
      </button>
    </div>
  );
};
