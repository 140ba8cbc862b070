// Where a page's state lives between its inputs: each action goes through the page's
// pure reducer (``*-state.js``), and every change is handed to the page's renderers.
// Shared by every page (copied to the tablet's page by scripts/ensure-frontend).
//
// ``tick()`` is the page's one clock: it stamps a live event when it arrives and an
// answer when its request leaves (see domain.js), so the reducer can tell which of two
// inputs about the same record is the newer one.

export function createStore(reduce, state) {
  let clock = 0;
  const listeners = [];
  return {
    get state() {
      return state;
    },
    tick: () => ++clock,
    dispatch(action) {
      const before = state;
      state = reduce(state, action);
      if (state !== before) for (const fn of listeners) fn(state, before, action);
      return state;
    },
    subscribe(fn) {
      listeners.push(fn);
    },
  };
}

/** Ask for what the state says the page lacks: ``needs(state)`` lists ``{ key, what,
 * id }``; ``load(need)`` fetches one and resolves to an action. Each key is asked once at
 * a time; what the answers change may need more, which is asked in turn. Bursts of
 * events are gathered for ``delayMs`` first. Returns ``{ request(), settled() }``:
 * ``settled()`` resolves once nothing is wanted nor on its way. */
export function follow(store, needs, load, { delayMs = 0 } = {}) {
  const inFlight = new Map();
  const idle = [];
  let timer = null;
  let due = Infinity;
  const check = () => {
    timer = null;
    due = Infinity;
    for (const need of needs(store.state)) {
      if (inFlight.has(need.key)) continue;
      const asOf = store.tick();
      const job = load(need, asOf)
        .then((action) => action && store.dispatch(action))
        .finally(() => {
          inFlight.delete(need.key);
          request(0);
          if (!inFlight.size && !timer) {
            for (const fn of idle.splice(0)) fn();
          }
        });
      inFlight.set(need.key, job);
    }
    if (!inFlight.size) for (const fn of idle.splice(0)) fn();
  };
  // A user's click asks at once (0 ms), even while a burst of events is being gathered.
  const request = (ms = delayMs) => {
    const at = Date.now() + ms;
    if (timer && at >= due) return;
    clearTimeout(timer);
    due = at;
    timer = setTimeout(check, ms);
  };
  store.subscribe(() => request());
  return {
    request,
    settled: () =>
      new Promise((resolve) => {
        idle.push(resolve);
        request(0);
      }),
  };
}

/** A renderer that draws only when what it shows changed: ``deps(state)`` lists the
 * parts of the state it reads (compared by identity, which the reducers keep for what
 * they do not change). ``reset()`` makes the next call draw, e.g. after a language
 * switch. */
export function drawWhenChanged(deps, draw) {
  let last = null;
  const fn = (state, ...rest) => {
    const now = deps(state, ...rest);
    if (last && now.length === last.length && now.every((x, i) => x === last[i])) return;
    last = now;
    draw(state, ...rest);
  };
  fn.reset = () => {
    last = null;
  };
  return fn;
}
