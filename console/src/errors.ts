// The messages the error bar shows: any page reports a failure with showError(), the bar lists
// them until they are dismissed.

import { useEffect, useState } from 'preact/hooks';

export interface ShownError {
  key: number;
  message: string;
}

let errors: ShownError[] = [];
let nextKey = 1;
const listeners = new Set<(errors: ShownError[]) => void>();

function publish(next: ShownError[]): void {
  errors = next;
  for (const listener of listeners) listener(errors);
}

/** Shows `error` (an ApiError, any Error or a message) in the error bar; the same text only once. */
export function showError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  if (errors.some((e) => e.message === message)) return;
  publish([...errors, { key: nextKey++, message }]);
}

export function dismissError(key: number): void {
  publish(errors.filter((e) => e.key !== key));
}

export function dismissAllErrors(): void {
  publish([]);
}

export function useErrors(): ShownError[] {
  const [current, setCurrent] = useState(errors);
  useEffect(() => {
    listeners.add(setCurrent);
    setCurrent(errors);
    return () => {
      listeners.delete(setCurrent);
    };
  }, []);
  return current;
}
