import { describe, expect, it } from 'vitest';
import { parseFaqFile } from '@alphadome/tenant-core';

const problem = (text: string, file = 'faq.csv'): string => {
  try {
    parseFaqFile(text, file);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a problem');
};

describe('parseFaqFile', () => {
  it('reads CSV with quotes, line breaks in cells, CRLF, a BOM and an optional language', () => {
    const text = '\uFEFFQuestion,Answer,Language\r\n"Hours, please?","8 to 6,\r\nMon-Sat",\r\n\r\nSaa ngapi?,Saa mbili,sw\r\n';
    expect(parseFaqFile(text, 'x.CSV')).toEqual([
      { question: 'Hours, please?', answer: '8 to 6,\nMon-Sat', language: 'en', tags: [], isActive: true },
      { question: 'Saa ngapi?', answer: 'Saa mbili', language: 'sw', tags: [], isActive: true },
    ]);
  });

  it('names the line of the first bad CSV row, counting from the start of a multi-line record', () => {
    expect(problem('question,answer\n"a\nb",ok\n"c\nd",\n')).toBe('faq.csv:4: answer is empty');
    expect(problem('question,answer\nA,B\n\nC\n')).toBe('faq.csv:4: expected 2 fields (question,answer), got 1');
    expect(problem('question\nA\n')).toMatch(/^faq\.csv:1: the header must name .*"answer" is missing$/);
    expect(problem('question,answer,tags\nA,B,c\n')).toBe('faq.csv:1: unknown column "tags"; expected question,answer[,language]');
    expect(problem('question,answer\n')).toBe('faq.csv: no FAQ rows after the header');
    expect(problem('')).toMatch(/^faq\.csv: the file is empty/);
    expect(problem(`question,answer\nA,${'x'.repeat(5000)}\n`)).toBe('faq.csv:2: answer is longer than 4096 characters (WhatsApp text limit)');
  });

  it('reads JSON and names the line of the bad element', () => {
    expect(parseFaqFile('[{"question":"A","answer":"B","language":"sw"}]', 'f.json')).toEqual([
      { question: 'A', answer: 'B', language: 'sw', tags: [], isActive: true },
    ]);
    const text = '[\n  {"question": "A", "answer": "B"},\n  {\n    "question": "C [x], {y}",\n    "answer": "D"\n  },\n  {"question": "E", "answer": 5}\n]';
    expect(problem(text, 'f.json')).toBe('f.json:7: answer must be a string');
    expect(problem('{"question": "A"}', 'f.json')).toMatch(/^f\.json:1: expected a JSON array/);
    expect(problem('[\n1\n]', 'f.json')).toBe('f.json:2: each element must be an object with "question" and "answer"');
    expect(problem('[\n{"question": "A",\n"answer": "B",}\n]', 'f.json')).toMatch(/^f\.json:3: invalid JSON/);
    expect(problem('[{"answer": "x"}]', 'f.json')).toBe('f.json:1: question is missing');
    expect(problem('[{"q": 1}]', 'f.json')).toBe('f.json:1: unknown field "q"');
  });

  it('refuses other file types', () => {
    expect(problem('x', 'faq.xlsx')).toBe('faq.xlsx: unknown file type; use a .csv or .json file');
  });
});
