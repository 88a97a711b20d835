import { StepCard, type StepProps } from "./StepCard.tsx";

/** The user cannot present a method of their set and may not enrol it: say why and whom to ask. */
export const BlockedStep = ({ view }: StepProps) => (
  <StepCard title="You cannot finish signing in here yet" testId="step-blocked" focusHeading>
    <div className="notice notice-warning" role="status">
      <p className="notice-title">
        {view.message ??
          "Your sign-in needs a method that is not set up for you. Your help desk can set it up with you."}
      </p>
      <p>The options below still work: you can reset your PIN or ask your help desk for help.</p>
    </div>
  </StepCard>
);
