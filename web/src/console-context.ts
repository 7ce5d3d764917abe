import { createContext, useContext } from 'react';
import type { Location, Session } from './types.ts';

export interface ConsoleContextValue {
  session: Session;
  locations: Location[];
  /** A location's name, or null when it is unknown (not loaded yet, or another merchant's). */
  locationName(id: string | null | undefined): string | null;
  isManager: boolean;
}

export const ConsoleContext = createContext<ConsoleContextValue | null>(null);

/** The signed-in staff member, her merchant and its locations; every screen is under the provider. */
export function useConsole(): ConsoleContextValue {
  const value = useContext(ConsoleContext);
  if (!value) throw new Error('useConsole is used outside the signed-in console');
  return value;
}
