// Which threads exist. The OpenAI API has no "list threads" route; Foundry's has one
// (GET /api/projects/{project}/threads). The page asks that route, and also remembers the threads
// it created itself in localStorage (ids only), for servers without it.

import { get, listAll } from "./api.js";

const SLOT = "runflow.playground.threads";
const FOUNDRY = "/api/projects/playground";

export function remembered() {
  try {
    const items = JSON.parse(localStorage.getItem(SLOT) || "[]");
    return Array.isArray(items) ? items : [];
  } catch {
    return [];
  }
}

export function remember(thread) {
  const items = remembered().filter((t) => t.id !== thread.id);
  items.unshift({ id: thread.id, created_at: thread.created_at });
  localStorage.setItem(SLOT, JSON.stringify(items.slice(0, 200)));
}

export function forget(threadId) {
  localStorage.setItem(SLOT, JSON.stringify(remembered().filter((t) => t.id !== threadId)));
}

/**
 * Every thread we can know of: {threads: [{id, created_at}], source: "server" | "this browser"}.
 * Threads the page remembers but the server no longer has are dropped.
 */
export async function knownThreads() {
  try {
    const listed = await listAll("/threads", { root: FOUNDRY });
    const ids = new Set(listed.map((t) => t.id));
    const extra = remembered().filter((t) => !ids.has(t.id));
    return { threads: [...listed, ...extra], source: "server" };
  } catch (error) {
    if (error.status !== 404 && error.status !== 405) throw error;
  }
  const alive = [];
  for (const thread of remembered()) {
    try {
      alive.push(await get(`/threads/${thread.id}`));
    } catch (error) {
      if (error.status === 404) forget(thread.id);
      else throw error;
    }
  }
  return { threads: alive, source: "this browser" };
}
