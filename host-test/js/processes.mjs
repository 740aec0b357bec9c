// The child processes of the page tests and the benchmark (Go services, `expvar-heap watch`):
// started with their output piped, each one's first line awaited, all of them stopped at the end.
// Not a test file (node --test runs *.test.mjs).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

// How long a first line is waited for: long enough to matter only when something is truly
// broken, on any machine however loaded.
export const WAIT = 60000;

// Every child started and not yet exited.
export const children = new Set();

// `command` started with stdout and stderr piped; `env` added to this process's environment.
export function start(command, args, env = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

// The first line a child writes on `stream` (that `match` takes), within WAIT.
export function firstLine(child, stream, match = () => true) {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child[stream] });
    const timer = setTimeout(() => reject(new Error(`no line from ${child.spawnfile} on ${stream}`)), WAIT);
    lines.on('line', (line) => {
      if (!match(line)) return;
      clearTimeout(timer);
      resolve(line);
    });
  });
}

// The URL of the page an `expvar-heap watch` child serves, from the line where it says so.
export async function pageUrl(watch) {
  const line = await firstLine(watch, 'stderr', (l) => l.includes('the page is at'));
  return /http:\/\/\S+\//.exec(line)[0];
}

// Kills a child and waits for it to be gone.
export function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill('SIGKILL');
  });
}

// Stops every child still running.
export async function stopAll() {
  for (const child of [...children]) await stop(child);
}
