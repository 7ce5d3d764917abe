import { useState, type FormEvent } from 'react';
import { describeError, request } from './api.ts';
import type { Session } from './types.ts';
import { Notice, Page } from './ui/page.tsx';

/** Email and password; the engine answers with the staff member and sets the session cookie. */
export function SignIn({ onSignedIn, notice }: { onSignedIn(session: Session): void; notice: string | null }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await request<Session>('/v1/sessions', { method: 'POST', body: { email: email.trim(), password } }));
    } catch (failure) {
      setError(describeError(failure));
      setBusy(false);
    }
  };

  return (
    <main id="main" className="sign-in">
      <Page title="Sign in to Continuum">
        {notice ? <Notice kind="info">{notice}</Notice> : null}
        <form onSubmit={submit} className="stack" aria-describedby={error ? 'sign-in-error' : undefined}>
          <div className="field">
            <label htmlFor="sign-in-email">Email</label>
            <input id="sign-in-email" type="email" autoComplete="username" required value={email} onChange={(event) => setEmail(event.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="sign-in-password">Password</label>
            <input id="sign-in-password" type="password" autoComplete="current-password" required value={password} onChange={(event) => setPassword(event.target.value)} />
          </div>
          <button type="submit" className="primary" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
          {error ? <div id="sign-in-error"><Notice kind="error">{error}</Notice></div> : null}
        </form>
      </Page>
    </main>
  );
}
