import { lazy, Suspense, useCallback, useEffect, useMemo, useState, type ComponentType, type LazyExoticComponent } from 'react';
import { getData, onSessionEnded, request } from './api.ts';
import { ConsoleContext, useConsole, type ConsoleContextValue } from './console-context.ts';
import { Link, matchPath, navigate, useLocation } from './router.tsx';
import { SignIn } from './sign-in.tsx';
import type { Location, Session } from './types.ts';
import { Loading, Notice, Page } from './ui/page.tsx';

// Every screen is its own chunk, loaded when first opened: an associate's tablet never downloads
// the operator's screens (reports, sync health), and the first paint is the shell and sign-in only.
const screens = {
  customerSearch: lazy(() => import('./staff/customer-search.tsx')),
  customerProfile: lazy(() => import('./staff/customer-profile.tsx')),
  orderSearch: lazy(() => import('./staff/order-search.tsx')),
  returnFlow: lazy(() => import('./staff/return-flow.tsx')),
  pickupQueue: lazy(() => import('./staff/pickup-queue.tsx')),
  exceptionQueue: lazy(() => import('./ops/exception-queue.tsx')),
  exceptionDetail: lazy(() => import('./ops/exception-detail.tsx')),
  syncHealth: lazy(() => import('./ops/sync-health.tsx')),
  reconciliation: lazy(() => import('./ops/reconciliation.tsx')),
  merges: lazy(() => import('./ops/merges.tsx')),
  reports: lazy(() => import('./ops/reports.tsx')),
  rollout: lazy(() => import('./ops/rollout.tsx')),
  staffPeople: lazy(() => import('./ops/staff-people.tsx')),
};

type Screen = LazyExoticComponent<ComponentType<{ params: Record<string, string> }>>;

interface Route {
  pattern: string;
  screen: Screen;
  managerOnly: boolean;
}

const routes: Route[] = [
  { pattern: '/staff', screen: screens.customerSearch, managerOnly: false },
  { pattern: '/staff/customers/:id', screen: screens.customerProfile, managerOnly: false },
  { pattern: '/staff/returns', screen: screens.orderSearch, managerOnly: false },
  { pattern: '/staff/returns/:orderId', screen: screens.returnFlow, managerOnly: false },
  { pattern: '/staff/pickups', screen: screens.pickupQueue, managerOnly: false },
  { pattern: '/ops', screen: screens.exceptionQueue, managerOnly: true },
  { pattern: '/ops/exceptions/:id', screen: screens.exceptionDetail, managerOnly: true },
  { pattern: '/ops/sync', screen: screens.syncHealth, managerOnly: true },
  { pattern: '/ops/reconciliation', screen: screens.reconciliation, managerOnly: true },
  { pattern: '/ops/merges', screen: screens.merges, managerOnly: true },
  { pattern: '/ops/reports', screen: screens.reports, managerOnly: true },
  { pattern: '/ops/rollout', screen: screens.rollout, managerOnly: true },
  { pattern: '/ops/staff', screen: screens.staffPeople, managerOnly: true },
];

const staffLinks = [
  { to: '/staff', label: 'Customers' },
  { to: '/staff/returns', label: 'Returns' },
  { to: '/staff/pickups', label: 'Pickups' },
];

const operatorLinks = [
  { to: '/ops', label: 'Exceptions' },
  { to: '/ops/sync', label: 'Sync health' },
  { to: '/ops/reconciliation', label: 'Reconciliation' },
  { to: '/ops/merges', label: 'Merges' },
  { to: '/ops/reports', label: 'Reports' },
  { to: '/ops/rollout', label: 'Rollout' },
  { to: '/ops/staff', label: 'Staff' },
];

function homeOf(session: Session): string {
  return session.staff.role === 'manager' ? '/ops' : '/staff';
}

/** Signed in or not: asks the engine for the current session once, then shows sign-in or the console. */
export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    request<Session>('/v1/sessions/current', { signal: controller.signal }).then(setSession, () => { if (!controller.signal.aborted) setSession(null); });
    return () => controller.abort();
  }, []);

  useEffect(() => onSessionEnded(() => {
    setSession(null);
    setNotice('Your session ended. Sign in again to go on.');
  }), []);

  const signedIn = useCallback((next: Session) => {
    setNotice(null);
    setSession(next);
    const { pathname } = window.location;
    if (pathname === '/console' || pathname === '/console/') navigate(homeOf(next), { replace: true });
  }, []);

  const signOut = useCallback(async () => {
    try {
      await request('/v1/sessions/current', { method: 'DELETE' });
    } finally {
      setSession(null);
      setNotice('You are signed out.');
      navigate('/', { replace: true });
    }
  }, []);

  if (session === undefined) return <main id="main"><Loading what="the console" /></main>;
  if (session === null) return <SignIn onSignedIn={signedIn} notice={notice} />;
  return <SignedIn session={session} onSignOut={signOut} />;
}

function SignedIn({ session, onSignOut }: { session: Session; onSignOut(): Promise<void> }) {
  const [locations, setLocations] = useState<Location[]>([]);
  useEffect(() => {
    const controller = new AbortController();
    getData<Location[]>('/v1/locations', controller.signal).then(setLocations, () => undefined);
    return () => controller.abort();
  }, []);
  const context = useMemo<ConsoleContextValue>(() => ({
    session, locations, isManager: session.staff.role === 'manager',
    locationName: (id) => (id ? locations.find((location) => location.id === id)?.name ?? null : null),
  }), [session, locations]);

  return (
    <ConsoleContext.Provider value={context}>
      <a className="skip-link" href="#main">Skip to content</a>
      <Header onSignOut={onSignOut} />
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading what="the screen" />}>
          <CurrentScreen />
        </Suspense>
      </main>
    </ConsoleContext.Provider>
  );
}

function Header({ onSignOut }: { onSignOut(): Promise<void> }) {
  const { session, isManager } = useConsole();
  const { path } = useLocation();
  const current = (to: string) => (to === path || (to !== '/staff' && to !== '/ops' && path.startsWith(`${to}/`)) || (to === '/ops' && path.startsWith('/ops/exceptions')) || (to === '/staff' && path.startsWith('/staff/customers')) ? 'page' : undefined);
  return (
    <header className="top">
      <div className="brand">
        <strong>Continuum</strong> <span>{session.merchant.name}</span>
      </div>
      <nav aria-label="Console">
        <span id="nav-store" className="nav-group">Store</span>
        <ul aria-labelledby="nav-store">
          {staffLinks.map((link) => <li key={link.to}><Link to={link.to} aria-current={current(link.to)}>{link.label}</Link></li>)}
        </ul>
        {isManager ? (
          <>
            <span id="nav-operations" className="nav-group">Operations</span>
            <ul aria-labelledby="nav-operations">
              {operatorLinks.map((link) => <li key={link.to}><Link to={link.to} aria-current={current(link.to)}>{link.label}</Link></li>)}
            </ul>
          </>
        ) : null}
      </nav>
      <div className="who">
        <span>{session.staff.name} · {session.staff.role === 'manager' ? 'Manager' : 'Associate'}{session.staff.home_location_name ? ` · ${session.staff.home_location_name}` : ''}</span>
        <button type="button" className="link-button" onClick={() => void onSignOut()}>Sign out</button>
      </div>
    </header>
  );
}

function CurrentScreen() {
  const { session, isManager } = useConsole();
  const { path } = useLocation();
  useEffect(() => {
    if (path === '/') navigate(homeOf(session), { replace: true });
  }, [path, session]);
  if (path === '/') return null;
  for (const route of routes) {
    const params = matchPath(route.pattern, path);
    if (!params) continue;
    if (route.managerOnly && !isManager) {
      return <Page title="For managers"><Notice kind="info">This screen is for managers. <Link to="/staff">Go to customers</Link>.</Notice></Page>;
    }
    const Screen = route.screen;
    return <Screen key={path} params={params} />;
  }
  return <Page title="Not found"><p>The console has no screen at this address. <Link to={homeOf(session)}>Go to the start</Link>.</p></Page>;
}
