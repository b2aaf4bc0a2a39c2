// A progress bar of fixed height with its text beside it: a <progress> element, indeterminate
// while the total is unknown.

import { humanBytes, humanCount } from './format';

interface Props {
  done: number;
  total?: number;
  unit?: string;
  label?: string;
  testid?: string;
}

export function ProgressBar({ done, total, unit, label, testid }: Props) {
  const amount = (n: number) => (unit === 'bytes' ? humanBytes(n) : humanCount(n));
  const known = total !== undefined && total > 0;
  const percent = known ? Math.min(100, Math.floor((done / total) * 100)) : undefined;
  const text = known ? `${amount(done)} / ${amount(total)}${unit && unit !== 'bytes' ? ` ${unit}` : ''} (${percent}%)` : `${amount(done)}${unit && unit !== 'bytes' ? ` ${unit}` : ''}`;
  return (
    <div class="progress" data-testid={testid} data-done={done} data-total={total}>
      <progress max={known ? total : undefined} value={known ? Math.min(done, total) : undefined} aria-label={label ?? 'progress'} />
      <span class="progress-text">
        {label ? `${label}: ` : ''}
        {text}
      </span>
    </div>
  );
}
