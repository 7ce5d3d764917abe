import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent, type ReactNode } from 'react';

// A router of a few lines: the console's paths live under /console/ in the address bar, so a
// reload or a shared link opens the same screen (the engine answers index.html for every path).

export const basePath = '/console';

const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener('popstate', listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('popstate', listener);
  };
}

function snapshot(): string {
  return window.location.pathname + window.location.search;
}

/** The current path inside the console ("/staff/customers/cus_…") and its query. */
export function useLocation(): { path: string; search: URLSearchParams } {
  const full = useSyncExternalStore(subscribe, snapshot);
  const [pathname = '', search = ''] = full.split('?');
  const path = pathname.startsWith(basePath) ? pathname.slice(basePath.length) || '/' : pathname;
  return { path: path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path, search: new URLSearchParams(search) };
}

/** Opens a console path ("/ops/exceptions/exc_…"); `replace` keeps the back button where it was. */
export function navigate(path: string, options: { replace?: boolean } = {}): void {
  const url = basePath + path;
  if (url === snapshot()) return;
  if (options.replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  for (const listener of listeners) listener();
}

/** Matches "/staff/customers/:id" against a path; answers the parameters or null. */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const patternParts = pattern.split('/');
  const pathParts = path.split('/');
  if (patternParts.length !== pathParts.length) return null;
  const parameters: Record<string, string> = {};
  for (const [index, part] of patternParts.entries()) {
    const actual = pathParts[index] ?? '';
    if (part.startsWith(':')) {
      if (!actual) return null;
      parameters[part.slice(1)] = decodeURIComponent(actual);
    } else if (part !== actual) return null;
  }
  return parameters;
}

interface LinkProps extends Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'> {
  to: string;
  children: ReactNode;
}

/** An ordinary link (it opens in a new tab, it can be copied) that moves inside the console without a reload. */
export function Link({ to, children, onClick, ...rest }: LinkProps) {
  const handleClick = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={basePath + to} onClick={handleClick} {...rest}>{children}</a>;
}
