// The running sync, kept beside the app's state rather than in the today screen: the
// person may leave the screen while a long sync runs, and find its bar and its result
// when coming back.
import { commands, events, type SyncProgress, type SyncReportView } from "./bindings";
import { call } from "./api";
import { closeIfErased } from "./app.svelte";

export const syncRun = $state({
  running: false,
  cancelling: false,
  progress: null as SyncProgress | null,
  report: null as SyncReportView | null,
  /** The last sync's error (a `CommandError`), translated where it is shown. */
  error: null as unknown,
});

events.syncProgress.listen((event) => {
  if (syncRun.running) syncRun.progress = event.payload;
});

/** The running sync, for whoever must wait for it to end. */
let current: Promise<void> | null = null;

/** Syncs now, unless a sync runs already; `after` runs once it ended, however. A screen
 *  about a record the sync erased closes first. */
export async function startSync(after: () => unknown) {
  if (syncRun.running) return;
  Object.assign(syncRun, { running: true, cancelling: false, progress: null, report: null, error: null });
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
}

/** Syncs once the running sync, if any, ended: what this device just asked of the
 *  server (an erasure) is then pulled. Answers whether the sync ran to its end. */
export async function syncAfterwards(): Promise<boolean> {
  while (current) await current;
  await startSync(() => {});
  return syncRun.error === null && syncRun.report !== null;
}

/** Asks the running sync to stop at its next request. */
export async function cancelSync() {
  if (!syncRun.running) return;
  syncRun.cancelling = true;
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
