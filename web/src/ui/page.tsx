import { useEffect, useRef, type ReactNode } from 'react';

/**
 * A screen: its h1 takes the focus when the screen opens, so a screen reader announces where the
 * associate landed and the next Tab starts in the new content, and the window title follows.
 */
export function Page({ title, children, lead, focusHeading = true }: { title: string; children: ReactNode; lead?: ReactNode; focusHeading?: boolean }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Continuum`;
    if (focusHeading) heading.current?.focus();
  }, [title, focusHeading]);
  return (
    <section className="page" aria-labelledby="page-title">
      <h1 id="page-title" tabIndex={-1} ref={heading}>{title}</h1>
      {lead ? <p className="lead">{lead}</p> : null}
      {children}
    </section>
  );
}

/** An error (announced at once) or a result (announced politely) with the focus moved to it when asked. */
export function Notice({ kind, children, focus = false }: { kind: 'error' | 'success' | 'info'; children: ReactNode; focus?: boolean }) {
  const element = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (focus) element.current?.focus();
  }, [focus, children]);
  return (
    <div ref={element} className={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'} tabIndex={focus ? -1 : undefined}>
      {children}
    </div>
  );
}

/**
 * A polite live region that stays in the page, so what it says later is announced (a region
 * mounted together with its text may be missed). Shown as a success notice when it has text.
 */
export function LiveRegion({ message }: { message: string }) {
  return <div className={message ? 'notice notice-success' : 'visually-hidden'} role="status" aria-live="polite">{message}</div>;
}

export function Loading({ what }: { what: string }) {
  return <p className="loading" role="status">Loading {what}…</p>;
}
