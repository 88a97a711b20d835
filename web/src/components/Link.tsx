import type { AnchorHTMLAttributes, MouseEvent, ReactNode } from "react";
import { href, type NavState, navigate } from "../lib/router.ts";

interface LinkProps extends Omit<AnchorHTMLAttributes<HTMLAnchorElement>, "href"> {
  to: string;
  state?: NavState;
  children: ReactNode;
}

/** An ordinary link (open in new tab works) that navigates inside the portal without a reload. */
export const Link = ({ to, state, children, onClick, ...rest }: LinkProps) => {
  const click = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to, state ? { state } : {});
  };
  return (
    <a href={href(to)} onClick={click} {...rest}>
      {children}
    </a>
  );
};
