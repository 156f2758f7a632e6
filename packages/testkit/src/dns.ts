import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';

/** Records a test's DNS server answers, by lower-case name without a trailing dot. */
export interface DnsRecords {
  A?: string[];
  TXT?: string[];
  CNAME?: string;
}

export interface TestDnsServer {
  /** `127.0.0.1:<port>`: for `dns.Resolver#setServers` and pebble's `-dnsserver`. */
  address: string;
  port: number;
  /** Replaces the records of `name` (undefined removes them). */
  set(name: string, records: DnsRecords | undefined): void;
  /** How many questions it answered for `name` (any type). */
  questionsFor(name: string): number;
  close(): Promise<void>;
}

const normalise = (name: string) => name.toLowerCase().replace(/\.$/, '');

/**
 * A real authoritative DNS server over UDP on 127.0.0.1 for tests (domain verification, pebble's
 * HTTP-01 lookups): A, TXT and CNAME from an in-memory table; NXDOMAIN for names it does not know.
 */
export async function startTestDnsServer(): Promise<TestDnsServer> {
  const zone = new Map<string, DnsRecords>();
  const asked = new Map<string, number>();
  const socket = createSocket('udp4');
  socket.on('message', (message, peer) => {
    let query: dnsPacket.Packet;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return; // not DNS: no answer, as a real server would drop it
    }
    const answers: dnsPacket.Answer[] = [];
    let known = false;
    for (const question of query.questions ?? []) {
      const name = normalise(question.name);
      asked.set(name, (asked.get(name) ?? 0) + 1);
      const records = zone.get(name);
      if (!records) continue;
      known = true;
      if (records.CNAME && question.type !== 'CNAME') {
        answers.push({ type: 'CNAME', name: question.name, ttl: 1, data: records.CNAME });
        const target = zone.get(normalise(records.CNAME));
        if (question.type === 'A')
          for (const ip of target?.A ?? [])
            answers.push({ type: 'A', name: records.CNAME, ttl: 1, data: ip });
        continue;
      }
      if (question.type === 'A')
        for (const ip of records.A ?? []) answers.push({ type: 'A', name: question.name, ttl: 1, data: ip });
      if (question.type === 'TXT')
        for (const text of records.TXT ?? [])
          answers.push({ type: 'TXT', name: question.name, ttl: 1, data: text });
      if (question.type === 'CNAME' && records.CNAME)
        answers.push({ type: 'CNAME', name: question.name, ttl: 1, data: records.CNAME });
    }
    const response = dnsPacket.encode({
      type: 'response',
      id: query.id,
      // Authoritative answer; recursion desired echoed; NXDOMAIN (rcode 3) for unknown names.
      flags:
        dnsPacket.AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | (known ? 0 : 3),
      questions: query.questions,
      answers,
    });
    socket.send(response, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  return {
    address: `127.0.0.1:${port}`,
    port,
    set(name, records) {
      if (records) zone.set(normalise(name), records);
      else zone.delete(normalise(name));
    },
    questionsFor: (name) => asked.get(normalise(name)) ?? 0,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
