/**
 * Text for the standard PDF fonts (pdfkit's Helvetica, Courier), which speak WinAnsi (about
 * Latin-1): other letters lose their accents (Kovač → Kovac) rather than print as garbage; what has
 * no such form prints as "?".
 */
export function printable(text: string): string {
  return [...text.normalize('NFC')]
    .map((char) => {
      if (char.charCodeAt(0) <= 0xff) return char;
      const base = char.normalize('NFKD').replace(/\p{M}/gu, '');
      return [...base].every((c) => c.charCodeAt(0) <= 0xff) && base ? base : '?';
    })
    .join('');
}

/** The bytes a PDF writer (pdfkit's document, a stream) emits until it ends; call before `end()`. */
export function pdfBytes(doc: NodeJS.EventEmitter): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
}
