import { SMTPServer } from "smtp-server";

export interface DevMailMessage {
  from: string;
  to: string[];
  subject: string;
  text: string;
  receivedAt: string;
}

/**
 * A local SMTP sink for development: accepts every message, keeps the last ones in memory and prints
 * them, so a newcomer sees a recovery code arrive without any email provider.
 */
export const startDevMailSink = async (
  options: { port?: number; host?: string; print?: (line: string) => void; keep?: number } = {},
) => {
  const messages: DevMailMessage[] = [];
  const keep = options.keep ?? 100;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const [head = "", ...rest] = raw.split(/\r?\n\r?\n/);
        const subject = /^subject:\s*(.*)$/im.exec(head)?.[1]?.trim() ?? "";
        const text = rest
          .join("\n\n")
          .replace(/=\r?\n/g, "")
          .trim();
        const message: DevMailMessage = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          subject,
          text,
          receivedAt: new Date().toISOString(),
        };
        messages.push(message);
        if (messages.length > keep) messages.shift();
        options.print?.(`\n📧 Mail to ${message.to.join(", ")} — ${message.subject}\n${message.text}\n`);
        callback();
      });
    },
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.server.address();
  const port = typeof address === "object" && address ? address.port : (options.port ?? 0);
  return {
    host,
    port,
    messages: () => [...messages],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};

export type DevMailSink = Awaited<ReturnType<typeof startDevMailSink>>;
