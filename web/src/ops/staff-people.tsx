import { useState, type FormEvent } from 'react';
import { describeError, getData, request } from '../api.ts';
import { useConsole } from '../console-context.ts';
import { formatDate } from '../format.ts';
import type { Location, StaffMember, StaffRole } from '../types.ts';
import { LiveRegion, Loading, Notice, Page } from '../ui/page.tsx';
import { useResource } from '../ui/use-resource.ts';

// The people who sign in to the console, for a manager: add one, change her name, home store or
// role, set a new password, stop her signing in when she leaves and let her back when she returns.
// Her email stays as created (docs/console-api.md); a manager cannot change her own role.

const passwordLengthMin = 10;
const roleNames: Record<StaffRole, string> = { associate: 'Associate', manager: 'Manager' };

type Mode = 'details' | 'password' | 'disable';
type StaffDetails = { name: string; home_location_id: string | null; role?: StaffRole };

function roleOptions() {
  return [
    <option key="associate" value="associate">{roleNames.associate}: the register's work</option>,
    <option key="manager" value="manager">{roleNames.manager}: everything</option>,
  ];
}
type Editing = { id: string; mode: Mode } | null;

function storeOptions(locations: Location[]) {
  return [
    <option key="" value="">No home store</option>,
    ...locations.map((location) => <option key={location.id} value={location.id}>{location.name}</option>),
  ];
}

/** Staff management: the list with its actions, and the form that adds a person. */
export default function StaffPeople() {
  const { session, locations } = useConsole();
  const people = useResource((signal) => getData<StaffMember[]>('/v1/staff', signal), []);
  const [editing, setEditing] = useState<Editing>(null);
  const [message, setMessage] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  /** Runs one change; on success says `done(answer)` politely and reloads the list. */
  async function change<T>(action: () => Promise<T>, done: (answer: T) => string): Promise<boolean> {
    setBusy(true);
    setError(null);
    setMessage('');
    try {
      const answer = await action();
      setMessage(done(answer));
      setEditing(null);
      people.reload();
      return true;
    } catch (failure) {
      setError(describeError(failure));
      return false;
    } finally {
      setBusy(false);
    }
  }

  const path = (person: StaffMember, suffix = '') => `/v1/staff/${encodeURIComponent(person.id)}${suffix}`;
  const disable = (person: StaffMember) => change(() => request(path(person, '/disable'), { method: 'POST' }), () => `${person.name} can no longer sign in; her open sessions have ended.`);
  const enable = (person: StaffMember) => change(() => request(path(person, '/enable'), { method: 'POST' }), () => `${person.name} can sign in again.`);

  return (
    <Page title="Staff" lead="Who signs in to the console: add a person, change her name, store or role, set a new password, or stop her signing in.">
      <LiveRegion message={message} />
      {error ? <Notice kind="error" focus>{error}</Notice> : null}
      {people.error ? <Notice kind="error">{people.error}</Notice> : null}
      {!people.data && !people.error ? <Loading what="staff" /> : null}
      {people.data ? (
        <table data-testid="staff">
          <caption className="visually-hidden">Staff, by name</caption>
          <thead>
            <tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Home store</th><th scope="col">Status</th><th scope="col"><span className="visually-hidden">Actions</span></th></tr>
          </thead>
          <tbody>
            {people.data.map((person) => (
              <PersonRow
                key={person.id} person={person} isSelf={person.id === session.staff.id} locations={locations} busy={busy}
                editing={editing?.id === person.id ? editing.mode : null} onEdit={(mode) => { setError(null); setEditing(mode ? { id: person.id, mode } : null); }}
                onDisable={() => void disable(person)} onEnable={() => void enable(person)}
                onSaveDetails={(details) => change(() => request(path(person), { method: 'PATCH', body: details }), () => `${details.name} is saved.`)}
                onSavePassword={(password) => change(() => request(path(person, '/password'), { method: 'POST', body: { password } }), () => `${person.name} has a new password; her other sessions have ended.`)}
              />
            ))}
          </tbody>
        </table>
      ) : null}
      <AddPerson
        locations={locations} busy={busy}
        onAdd={(input) => change(() => request<{ data: StaffMember }>('/v1/staff', { method: 'POST', body: input }), (answer) => `${answer.data.name} can sign in as ${answer.data.email}.`)}
      />
    </Page>
  );
}

interface PersonRowProps {
  person: StaffMember;
  isSelf: boolean;
  locations: Location[];
  busy: boolean;
  editing: Mode | null;
  onEdit(mode: Mode | null): void;
  onDisable(): void;
  onEnable(): void;
  onSaveDetails(details: StaffDetails): Promise<boolean>;
  onSavePassword(password: string): Promise<boolean>;
}

/** One person: her facts and actions, and under them the form being filled for her, if any. */
function PersonRow({ person, isSelf, locations, busy, editing, onEdit, onDisable, onEnable, onSaveDetails, onSavePassword }: PersonRowProps) {
  const status = person.disabled_at ? `Disabled ${formatDate(person.disabled_at)}` : 'Active';
  return (
    <>
      <tr data-testid={`staff-${person.email}`}>
        <th scope="row">{person.name}{isSelf ? <span className="muted"> (you)</span> : null}</th>
        <td>{person.email}</td>
        <td>{roleNames[person.role]}</td>
        <td>{person.home_location_name ?? '—'}</td>
        <td data-testid="staff-status">{status}</td>
        <td>
          <span className="button-row">
            <button type="button" disabled={busy} aria-expanded={editing === 'details'} onClick={() => onEdit(editing === 'details' ? null : 'details')}>Edit<span className="visually-hidden"> {person.name}</span></button>
            <button type="button" disabled={busy} aria-expanded={editing === 'password'} onClick={() => onEdit(editing === 'password' ? null : 'password')}>Set password<span className="visually-hidden"> for {person.name}</span></button>
            {person.disabled_at
              ? <button type="button" disabled={busy} onClick={onEnable}>Enable<span className="visually-hidden"> {person.name}</span></button>
              : isSelf ? null : <button type="button" disabled={busy} aria-expanded={editing === 'disable'} onClick={() => onEdit(editing === 'disable' ? null : 'disable')}>Disable<span className="visually-hidden"> {person.name}</span></button>}
          </span>
        </td>
      </tr>
      {editing ? (
        <tr>
          <td colSpan={6}>
            {editing === 'details' ? <DetailsForm person={person} isSelf={isSelf} locations={locations} busy={busy} onSave={onSaveDetails} onCancel={() => onEdit(null)} /> : null}
            {editing === 'password' ? <PasswordForm person={person} busy={busy} onSave={onSavePassword} onCancel={() => onEdit(null)} /> : null}
            {editing === 'disable' ? <DisableConfirmation person={person} busy={busy} onConfirm={onDisable} onCancel={() => onEdit(null)} /> : null}
          </td>
        </tr>
      ) : null}
    </>
  );
}

/** Disabling ends her open sessions at once (a sale she is ringing up included): asked once more. */
function DisableConfirmation({ person, busy, onConfirm, onCancel }: { person: StaffMember; busy: boolean; onConfirm(): void; onCancel(): void }) {
  return (
    <div className="inline-form" role="group" aria-label={`Disable ${person.name}?`}>
      <p>Disable {person.name}? She cannot sign in until she is enabled again, and her open sessions end now.</p>
      <button type="button" className="primary" disabled={busy} onClick={onConfirm} autoFocus>Disable {person.name}</button>
      <button type="button" onClick={onCancel}>Keep</button>
    </div>
  );
}

/**
 * Her name, store and role. Her own role is shown but fixed: a manager who made herself an
 * associate could not undo it (the engine refuses it too, 409 staff.role_self_conflict).
 */
function DetailsForm({ person, isSelf, locations, busy, onSave, onCancel }: { person: StaffMember; isSelf: boolean; locations: Location[]; busy: boolean; onSave: PersonRowProps['onSaveDetails']; onCancel(): void }) {
  const [name, setName] = useState(person.name);
  const [store, setStore] = useState(person.home_location_id ?? '');
  const [role, setRole] = useState<StaffRole>(person.role);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void onSave({ name: name.trim(), home_location_id: store || null, ...(role !== person.role ? { role } : {}) });
  };
  return (
    <form className="inline-form" onSubmit={submit} aria-label={`Edit ${person.name}`}>
      <div className="field grow">
        <label htmlFor={`name-${person.id}`}>Name</label>
        <input id={`name-${person.id}`} type="text" required maxLength={200} value={name} onChange={(event) => setName(event.target.value)} autoFocus />
      </div>
      <div className="field">
        <label htmlFor={`store-${person.id}`}>Home store</label>
        <select id={`store-${person.id}`} value={store} onChange={(event) => setStore(event.target.value)}>{storeOptions(locations)}</select>
      </div>
      <div className="field">
        <label htmlFor={`role-${person.id}`}>Role</label>
        <select id={`role-${person.id}`} value={role} disabled={isSelf} aria-describedby={isSelf ? `role-note-${person.id}` : undefined} onChange={(event) => setRole(event.target.value as StaffRole)}>{roleOptions()}</select>
        {isSelf ? <p className="muted" id={`role-note-${person.id}`}>Another manager can change your role.</p> : null}
      </div>
      <button type="submit" className="primary" disabled={busy || name.trim() === ''}>Save</button>
      <button type="button" onClick={onCancel}>Cancel</button>
    </form>
  );
}

function PasswordForm({ person, busy, onSave, onCancel }: { person: StaffMember; busy: boolean; onSave(password: string): Promise<boolean>; onCancel(): void }) {
  const [password, setPassword] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void onSave(password);
  };
  return (
    <form className="inline-form" onSubmit={submit} aria-label={`New password for ${person.name}`}>
      <div className="field grow">
        <label htmlFor={`password-${person.id}`}>New password for {person.name} (at least {passwordLengthMin} characters)</label>
        <input id={`password-${person.id}`} type="password" autoComplete="new-password" required minLength={passwordLengthMin} value={password} onChange={(event) => setPassword(event.target.value)} autoFocus />
      </div>
      <button type="submit" className="primary" disabled={busy || password.length < passwordLengthMin}>Set password</button>
      <button type="button" onClick={onCancel}>Cancel</button>
    </form>
  );
}

interface NewPerson {
  email: string;
  name: string;
  role: StaffRole;
  home_location_id: string | null;
  password: string;
}

/** The form that adds a person; emptied once she is added. */
function AddPerson({ locations, busy, onAdd }: { locations: Location[]; busy: boolean; onAdd(input: NewPerson): Promise<boolean> }) {
  const empty = { email: '', name: '', role: 'associate' as StaffRole, store: '', password: '' };
  const [form, setForm] = useState(empty);
  const set = (field: keyof typeof empty) => (event: { target: { value: string } }) => setForm((previous) => ({ ...previous, [field]: event.target.value }));
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const added = await onAdd({ email: form.email.trim(), name: form.name.trim(), role: form.role, home_location_id: form.store || null, password: form.password });
    if (added) setForm(empty);
  };
  return (
    <section aria-labelledby="add-person-heading" className="card">
      <h2 id="add-person-heading">Add a person</h2>
      <form className="inline-form" onSubmit={(event) => void submit(event)}>
        <div className="field grow">
          <label htmlFor="new-email">Email</label>
          <input id="new-email" type="email" required autoComplete="off" value={form.email} onChange={set('email')} />
        </div>
        <div className="field grow">
          <label htmlFor="new-name">Name</label>
          <input id="new-name" type="text" required maxLength={200} value={form.name} onChange={set('name')} />
        </div>
        <div className="field">
          <label htmlFor="new-role">Role</label>
          <select id="new-role" value={form.role} onChange={set('role')}>
            {roleOptions()}
          </select>
        </div>
        <div className="field">
          <label htmlFor="new-store">Home store</label>
          <select id="new-store" value={form.store} onChange={set('store')}>{storeOptions(locations)}</select>
        </div>
        <div className="field grow">
          <label htmlFor="new-password">Password (at least {passwordLengthMin} characters)</label>
          <input id="new-password" type="password" autoComplete="new-password" required minLength={passwordLengthMin} value={form.password} onChange={set('password')} />
        </div>
        <button type="submit" className="primary" disabled={busy}>Add</button>
      </form>
    </section>
  );
}
