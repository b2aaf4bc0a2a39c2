// The shapes of what the server's JSON API returns: defined once, beside the server.

export type {
  Diff,
  DiffItem,
  Entry,
  EntryType,
  IdOverview,
  Job,
  JobKind,
  JobProgress,
  JobRequest,
  JobState,
  LogFile,
  Overview,
  OverviewComputing,
  OverviewReady,
  Revision,
  RevisionStats,
  Session,
  TreeIndexing,
  TreePage,
} from '../../src/serve/wire.js';
