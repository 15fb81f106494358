import { createInterface } from "node:readline";

/** Reads a secret: the first line of standard input when it is piped, else a prompt that does not echo. */
export async function readSecret(prompt: string, confirm?: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return (Buffer.concat(chunks).toString("utf8").split(/\r?\n/)[0] ?? "").trimEnd();
  }
  const first = await promptHidden(prompt);
  if (confirm !== undefined) {
    const second = await promptHidden(confirm);
    if (first !== second) throw new Error("the two passwords differ");
  }
  return first;
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    const output = rl as unknown as { _writeToOutput: (text: string) => void };
    rl.question(prompt, (answer) => {
      rl.close();
      process.stdout.write("\n");
      resolve(answer);
    });
    // Echo the prompt but nothing typed after it.
    output._writeToOutput = (text: string) => {
      if (text.startsWith(prompt)) process.stdout.write(prompt);
    };
  });
}
