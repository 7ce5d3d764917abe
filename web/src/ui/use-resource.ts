import { useCallback, useEffect, useState } from 'react';
import { describeError } from '../api.ts';

export interface Resource<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  /** Loads it again (after an action changed it), keeping what is shown until the answer. */
  reload(): void;
}

/** Loads something for a screen, cancelled when the screen goes away or its inputs change. */
export function useResource<T>(load: (signal: AbortSignal) => Promise<T>, inputs: unknown[]): Resource<T> {
  const [state, setState] = useState<{ data: T | undefined; error: string | undefined; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    setState((previous) => ({ ...previous, loading: true }));
    load(controller.signal).then(
      (data) => { if (!controller.signal.aborted) setState({ data, error: undefined, loading: false }); },
      (error: unknown) => { if (!controller.signal.aborted) setState((previous) => ({ data: previous.data, error: describeError(error), loading: false })); },
    );
    return () => controller.abort();
    // The caller names the inputs; `load` is a fresh closure each render.
  }, [...inputs, generation]);
  const reload = useCallback(() => setGeneration((value) => value + 1), []);
  return { ...state, reload };
}
