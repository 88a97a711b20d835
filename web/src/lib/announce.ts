/** Polite announcements for screen readers (step changes, results) through one live region. */
export const ANNOUNCER_ID = "announcer";

export const announce = (text: string): void => {
  const region = document.getElementById(ANNOUNCER_ID);
  if (!region) return;
  // Clearing first makes the same text announced again.
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
};
