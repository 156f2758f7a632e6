import net from 'node:net';

/**
 * A TCP proxy on loopback for fault injection: `refuse()` closes it like a dead host,
 * `hang()` accepts connections and never answers, `delay(ms)` holds every answer back by `ms`
 * (a slow upstream), `restore()` forwards again at full speed.
 */
export interface FaultProxy {
  port: number;
  refuse(): Promise<void>;
  hang(): void;
  delay(ms: number): void;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let mode: 'forward' | 'hang' = 'forward';
  let delayMs = 0;
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const handle = (client: net.Socket) => {
    track(client);
    if (mode === 'hang') return;
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream);
    // Chunks keep their order: each waits the same time after the one before it arrived.
    upstream.on('data', (chunk: Buffer) => {
      if (!delayMs) return void client.write(chunk);
      setTimeout(() => client.writable && client.write(chunk), delayMs);
    });
    upstream.on('close', () => (delayMs ? setTimeout(() => client.destroy(), delayMs) : client.destroy()));
    client.on('close', () => upstream.destroy());
  };
  let server = net.createServer(handle);
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  const closeServer = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  return {
    port,
    refuse: closeServer,
    hang() {
      mode = 'hang';
    },
    delay(ms) {
      delayMs = ms;
    },
    async restore() {
      mode = 'forward';
      delayMs = 0;
      if (!server.listening) {
        server = net.createServer(handle);
        await listen(port);
      }
    },
    close: closeServer,
  };
}

/** A port that was free a moment ago, for processes that must be told their port up front. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Whether a process with this pid still runs (signal 0 only checks). */
export const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
