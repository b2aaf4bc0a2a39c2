// The failures reported with showError(), one line each, until dismissed.

import { dismissAllErrors, dismissError, useErrors } from './errors';

export function ErrorBar() {
  const errors = useErrors();
  if (errors.length === 0) return null;
  return (
    <div class="error-bar" role="alert" data-testid="error-bar">
      <ul>
        {errors.map((error) => (
          <li key={error.key}>
            <span class="error-message">{error.message}</span>
            <button type="button" class="link-button" onClick={() => dismissError(error.key)} aria-label="Dismiss this error">
              Dismiss
            </button>
          </li>
        ))}
      </ul>
      {errors.length > 1 && (
        <button type="button" class="link-button" onClick={dismissAllErrors}>
          Dismiss all
        </button>
      )}
    </div>
  );
}
