import { useEffect, useRef, useState, type FormEvent } from 'react';
import { describeError, getData, query } from '../api.ts';
import { formatPoints } from '../format.ts';
import { Link, navigate, useLocation } from '../router.tsx';
import type { CustomerSummary } from '../types.ts';
import { Notice, Page } from '../ui/page.tsx';

// A loyalty code as printed (XXX-XXX-XXX, Crockford base 32) or as a scanner types it.
const loyaltyCodePattern = /^[0-9a-z]{3}-?[0-9a-z]{3}-?[0-9a-z]{3}$/i;

function normaliseCode(code: string): string {
  return code.replaceAll('-', '').toUpperCase();
}

/**
 * Find a shopper by what she gives: her phone as she says it, her email, her name, or her card. A
 * scanner types the code and Enter into the search field; a code that names one profile opens it.
 */
export default function CustomerSearch() {
  const { search } = useLocation();
  const searched = search.get('q') ?? '';
  const [text, setText] = useState(searched);
  const [results, setResults] = useState<CustomerSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const field = useRef<HTMLInputElement>(null);

  useEffect(() => {
    setText(searched);
    if (!searched) {
      setResults(null);
      return;
    }
    const controller = new AbortController();
    setBusy(true);
    setError(null);
    getData<CustomerSummary[]>(`/v1/customers/lookup${query({ q: searched })}`, controller.signal).then((found) => {
      setBusy(false);
      const only = found.length === 1 ? found[0] : undefined;
      if (only && loyaltyCodePattern.test(searched) && only.loyalty_code && normaliseCode(only.loyalty_code) === normaliseCode(searched)) {
        navigate(`/staff/customers/${only.id}`, { replace: true });
        return;
      }
      setResults(found);
    }, (failure: unknown) => {
      if (controller.signal.aborted) return;
      setBusy(false);
      setError(describeError(failure));
      setResults(null);
    });
    return () => controller.abort();
  }, [searched]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const value = text.trim();
    if (!value) {
      field.current?.focus();
      return;
    }
    navigate(`/staff${query({ q: value })}`);
  };

  return (
    // The field, not the heading, takes the focus: a card scanner types into whatever has it.
    <Page title="Find a customer" lead="Phone as she says it, email, name, or scan her loyalty card." focusHeading={false}>
      <form onSubmit={submit} className="inline-form" role="search" aria-label="Customers">
        <div className="field grow">
          <label htmlFor="customer-query">Phone, email, name or loyalty code</label>
          <input id="customer-query" ref={field} autoFocus type="search" autoComplete="off" autoCapitalize="off" spellCheck={false} enterKeyHint="search" value={text} onChange={(event) => setText(event.target.value)} />
        </div>
        <button type="submit" className="primary" disabled={busy}>Search</button>
      </form>
      {/* One persistent status line says what the search found; the table itself is not read out. */}
      <p role="status" className={results ? '' : 'visually-hidden'}>{busy ? 'Searching…' : results ? resultCount(results.length, searched) : ''}</p>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {results ? <Results results={results} searched={searched} /> : null}
    </Page>
  );
}

function resultCount(count: number, searched: string): string {
  if (count === 0) return `No customer matches “${searched}”.`;
  return count === 1 ? 'One customer found.' : `${count} customers found.`;
}

function Results({ results, searched }: { results: CustomerSummary[]; searched: string }) {
  if (results.length === 0) return null;
  return (
    <>
      <table>
        <caption className="visually-hidden">Customers matching “{searched}”</caption>
        <thead>
          <tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Phone</th><th scope="col">Loyalty code</th><th scope="col">Tier</th><th scope="col" className="number">Points</th></tr>
        </thead>
        <tbody>
          {results.map((customer) => (
            <tr key={customer.id}>
              <th scope="row"><Link to={`/staff/customers/${customer.id}`}>{customer.name || 'No name'}</Link></th>
              <td>{customer.emails.join(', ') || '—'}</td>
              <td>{customer.phones.join(', ') || '—'}</td>
              <td><code>{customer.loyalty_code ?? '—'}</code></td>
              <td>{customer.loyalty.tier ?? '—'}</td>
              <td className="number">{formatPoints(customer.loyalty.available)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
