// server.mjs: the MongoDB stand-in of the development and test stacks (CongoDB, which speaks
// MongoDB's wire protocol), listening on 127.0.0.1 (or --host, e.g. 0.0.0.0 in a container),
// with its data in files.
//
//   node server.mjs --port PORT --dir DATA_DIR [--pid-file FILE] [--host ADDRESS]
//
// Stops cleanly (storage closed, pid file removed) on SIGTERM or SIGINT.
// Not a real MongoDB: see the README's "MongoDB stand-in" section for what differs.

import { writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CongoServer } from '@push.rocks/smartmongo/dist_ts/congodb/index.js';

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string' },
    dir: { type: 'string' },
    'pid-file': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});

const port = Number(opt.port);
if (!Number.isInteger(port) || port < 1 || port > 65535 || !opt.dir) {
  console.error('usage: node server.mjs --port PORT --dir DATA_DIR [--pid-file FILE] [--host ADDRESS]');
  process.exit(2);
}

const log = (msg) => console.log(`${new Date().toISOString()} mongo-standin[${process.pid}] ${msg}`);

mkdirSync(opt.dir, { recursive: true });
const server = new CongoServer({ host: opt.host, port, storage: 'file', storagePath: opt.dir });

// One command at a time, whichever connection sent it.  CongoDB's file storage reads, changes
// and rewrites a whole collection file per write, with awaits in between: two commands that
// overlap lose one another's writes ($inc, inserts) and a read can meet a half-written file.
// A real MongoDB makes each single-document write atomic; in series, so does the stand-in.
const route = server.commandRouter.route.bind(server.commandRouter);
let previous = Promise.resolve();
server.commandRouter.route = (command) => {
  const result = previous.then(() => route(command));
  previous = result.catch(() => {});
  return result;
};

let stopping = false;
async function stop(signal) {
  if (stopping) {
    return;
  }
  stopping = true;
  log(`${signal}: stopping`);
  try {
    await server.stop();
  } catch (err) {
    log(`error while stopping: ${err?.stack ?? err}`);
    process.exitCode = 1;
  }
  if (opt['pid-file']) {
    rmSync(opt['pid-file'], { force: true });
  }
  log('stopped');
  process.exit();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

try {
  await server.start();
} catch (err) {
  log(`cannot start on ${opt.host}:${port}: ${err?.message ?? err}`);
  process.exit(1);
}
if (opt['pid-file']) {
  writeFileSync(opt['pid-file'], `${process.pid}\n`);
}
log(`listening on ${opt.host}:${port}, data in ${opt.dir}`);
