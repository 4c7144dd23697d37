// The running sync, kept beside the app's state rather than in the today screen: the
// person may leave the screen while a long sync runs, and find its bar and its result
// when coming back. Records first: once they are synced (their result shown), the
// documents' bytes follow with their own bar, and their error never marks the records'
// sync as failed.
import { commands, events, type DocumentsProgress, type DocumentsReportView, type SyncProgress, type SyncReportView } from "./bindings";
import { call } from "./api";
import { app, closeIfErased } from "./app.svelte";

export const syncRun = $state({
  running: false,
  cancelling: false,
  progress: null as SyncProgress | null,
  report: null as SyncReportView | null,
  /** The last sync's error (a `CommandError`), translated where it is shown. */
  error: null as unknown,
});

/** The documents' sync that follows a sync of the records. */
export const documentsRun = $state({
  running: false,
  cancelling: false,
  progress: null as DocumentsProgress | null,
  report: null as DocumentsReportView | null,
  error: null as unknown,
});

events.syncProgress.listen((event) => {
  if (syncRun.running) syncRun.progress = event.payload;
});

events.documentsProgress.listen((event) => {
  if (documentsRun.running) documentsRun.progress = event.payload;
});

/** The running sync of the records, and of the documents, for whoever must wait for
 *  them to end. */
let current: Promise<void> | null = null;
let documentsCurrent: Promise<void> | null = null;

/** Syncs now, unless a sync runs already; `after` runs once the records' sync ended,
 *  however. A screen about a record the sync erased closes first. The documents follow
 *  in the background (see `documentsRun`). */
export async function startSync(after: () => unknown) {
  if (syncRun.running || documentsRun.running) return;
  Object.assign(syncRun, { running: true, cancelling: false, progress: null, report: null, error: null });
  Object.assign(documentsRun, { running: false, cancelling: false, progress: null, report: null, error: null });
  const run = (async () => {
    try {
      syncRun.report = await call(commands.sync());
    } catch (e) {
      syncRun.error = e;
    } finally {
      Object.assign(syncRun, { running: false, cancelling: false, progress: null });
    }
  })();
  current = run;
  await run;
  current = null;
  await closeIfErased();
  await after();
  if (syncRun.error === null && syncRun.report !== null && app.unlocked) startDocuments();
}

/** The documents' sync, after a sync of the records that ran to its end. */
function startDocuments() {
  Object.assign(documentsRun, { running: true, cancelling: false, progress: null, report: null, error: null });
  documentsCurrent = (async () => {
    try {
      documentsRun.report = await call(commands.syncDocuments());
    } catch (e) {
      documentsRun.error = e;
    } finally {
      Object.assign(documentsRun, { running: false, cancelling: false, progress: null });
      documentsCurrent = null;
    }
  })();
}

/** Syncs once the running sync, if any, ended: what this device just asked of the
 *  server (an erasure) is then pulled. Answers whether the records' sync ran to its end. */
export async function syncAfterwards(): Promise<boolean> {
  while (current || documentsCurrent) await (current ?? documentsCurrent);
  await startSync(() => {});
  return syncRun.error === null && syncRun.report !== null;
}

/** Asks the running sync (records or documents) to stop at its next request. */
export async function cancelSync() {
  if (syncRun.running) syncRun.cancelling = true;
  else if (documentsRun.running) documentsRun.cancelling = true;
  else return;
  await commands.cancelSync();
}

/** The bar's value in percent: each phase fills its share from where the last one ended. */
export function percent(p: SyncProgress | null): number {
  if (!p) return 0;
  if (p.phase === "done") return 100;
  const share = p.expected > 0 ? Math.min(p.done / p.expected, 1) : 0;
  const [start, width] = p.phase === "push" ? [0, 45] : p.phase === "pull" ? [45, 45] : [90, 10];
  return Math.round(start + width * share);
}

/** The documents' bar: bytes sent and received of those to send and receive. */
export function documentsPercent(p: DocumentsProgress | null): number {
  if (!p) return 0;
  const total = p.to_send + p.to_receive;
  if (total <= 0) return 100;
  return Math.round((Math.min(p.sent + p.received, total) / total) * 100);
}
