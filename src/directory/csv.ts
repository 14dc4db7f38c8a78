/**
 * A CSV reader for bulk import (RFC 4180): comma-separated fields, CRLF or LF line ends, fields in double
 * quotes may hold commas, line breaks and doubled quotes (`""`). A malformed record (a quote inside an
 * unquoted field, text after a closing quote, an unterminated quote) is reported with the line it starts on
 * and reading resumes at the next line.
 */

/** One record, or one malformed record, with the 1-based line number it starts on. */
export type CsvRow = { line: number; fields: string[]; error?: undefined } | { line: number; fields?: undefined; error: string };

const COMMA = 44;
const QUOTE = 34;
const CR = 13;
const LF = 10;

/** Read every record of `text`, calling `onRow` for each, in order. Blank lines are skipped. */
export function readCsv(text: string, onRow: (row: CsvRow) => void): void {
  const n = text.length;
  let i = 0;
  let line = 1;
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let error: string | undefined;
    let atRecordEnd = false;
    let lineStart = i;
    // A blank line is no record.
    const c0 = text.charCodeAt(i);
    if (c0 === LF || (c0 === CR && text.charCodeAt(i + 1) === LF)) {
      i += c0 === CR ? 2 : 1;
      line++;
      continue;
    }
    while (!atRecordEnd && error === undefined) {
      if (text.charCodeAt(i) === QUOTE) {
        // Quoted field (RFC 4180 §2, rules 5-7).
        let value = '';
        let from = ++i;
        let closed = false;
        while (i < n) {
          const c = text.charCodeAt(i);
          if (c === QUOTE) {
            if (text.charCodeAt(i + 1) === QUOTE) {
              value += text.slice(from, i + 1);
              i += 2;
              from = i;
              continue;
            }
            value += text.slice(from, i);
            i++;
            closed = true;
            break;
          }
          if (c === LF) line++;
          i++;
        }
        if (!closed) {
          error = 'unterminated quoted field';
          break;
        }
        fields.push(value);
        const c = i < n ? text.charCodeAt(i) : LF;
        if (c === COMMA) i++;
        else if (c === LF || c === CR) atRecordEnd = true;
        else error = 'text after a closing quote';
      } else {
        let j = i;
        let c = 0;
        while (j < n) {
          c = text.charCodeAt(j);
          if (c === COMMA || c === LF || c === CR || c === QUOTE) break;
          j++;
        }
        if (j < n && c === QUOTE) {
          error = 'quote inside an unquoted field';
          break;
        }
        fields.push(text.slice(i, j));
        i = j;
        if (j < n && c === COMMA) {
          i++;
          if (i === n) {
            fields.push('');
            atRecordEnd = true;
          }
        } else atRecordEnd = true;
      }
    }
    if (error !== undefined) {
      // Resynchronise on the next line end after the point of error.
      lineStart = i;
      while (i < n && text.charCodeAt(i) !== LF) i++;
      for (let k = lineStart; k < i; k++) if (text.charCodeAt(k) === LF) line++;
      onRow({ line: startLine, error });
    } else onRow({ line: startLine, fields });
    // Consume the record terminator.
    if (i < n && text.charCodeAt(i) === CR) i++;
    if (i < n && text.charCodeAt(i) === LF) {
      i++;
      line++;
    }
  }
}
