// Light or dark: the system's preference unless the header's toggle chose one (kept in
// localStorage). The choice is set as <html data-theme>, which style.css reads.

import { createContext } from 'preact';
import { useEffect, useState } from 'preact/hooks';

export type Theme = 'light' | 'dark';

const key = 'dbk.theme';
const dark = matchMedia('(prefers-color-scheme: dark)');

function saved(): Theme | undefined {
  try {
    const value = localStorage.getItem(key);
    return value === 'light' || value === 'dark' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Applies the saved choice before the first render, so the page does not flash. */
export function applySavedTheme(): void {
  const theme = saved();
  if (theme) document.documentElement.dataset.theme = theme;
}

/** The theme in effect, and a function that switches to the other one and remembers it. */
export function useTheme(): [Theme, () => void] {
  const [choice, setChoice] = useState(saved);
  const [systemDark, setSystemDark] = useState(dark.matches);
  useEffect(() => {
    const onChange = () => setSystemDark(dark.matches);
    dark.addEventListener('change', onChange);
    return () => dark.removeEventListener('change', onChange);
  }, []);
  const theme: Theme = choice ?? (systemDark ? 'dark' : 'light');
  const toggle = () => {
    const next: Theme = theme === 'dark' ? 'light' : 'dark';
    document.documentElement.dataset.theme = next;
    try {
      localStorage.setItem(key, next);
    } catch {
      // private mode: the choice lasts for this page only
    }
    setChoice(next);
  };
  return [theme, toggle];
}

/** the theme in effect, for what draws its own colours (the charts) */
export const ThemeContext = createContext<Theme>('light');
