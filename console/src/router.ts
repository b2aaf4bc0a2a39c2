// Hash routing: #/overview, #/revisions/ID, #/browse/ID/N/some/path, #/jobs, #/logs, #/logs/NAME.
// Each segment is URI-encoded on its own, so ids and file names may hold any character.

import { useEffect, useState } from 'preact/hooks';

export type Route = { page: 'overview' } | { page: 'revisions'; id: string } | { page: 'browse'; id: string; revision: number; path: string } | { page: 'jobs' } | { page: 'logs'; name?: string };

const enc = encodeURIComponent;

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function parseRoute(hash: string): Route {
  const segments = hash.replace(/^#\/?/, '').split('/').map(decode);
  const [page, ...rest] = segments;
  if (page === 'revisions' && rest[0]) return { page: 'revisions', id: rest[0] };
  if (page === 'browse' && rest[0] && rest[1] && /^\d+$/.test(rest[1])) {
    return { page: 'browse', id: rest[0], revision: Number(rest[1]), path: rest.slice(2).filter(Boolean).join('/') };
  }
  if (page === 'jobs') return { page: 'jobs' };
  if (page === 'logs') return rest[0] ? { page: 'logs', name: rest[0] } : { page: 'logs' };
  return { page: 'overview' };
}

export function href(route: Route): string {
  switch (route.page) {
    case 'overview':
      return '#/overview';
    case 'revisions':
      return `#/revisions/${enc(route.id)}`;
    case 'browse': {
      const path = route.path ? `/${route.path.split('/').map(enc).join('/')}` : '';
      return `#/browse/${enc(route.id)}/${route.revision}${path}`;
    }
    case 'jobs':
      return '#/jobs';
    case 'logs':
      return route.name ? `#/logs/${enc(route.name)}` : '#/logs';
  }
}

export function navigate(route: Route): void {
  location.hash = href(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
