import { describe, expect, it } from 'vitest';
import { currencyDecimals, formatMoney } from '../src/money.ts';
import { printable } from '../src/pdf.ts';

describe('formatMoney', () => {
  it("shows minor units in the currency's own decimals", () => {
    expect(currencyDecimals('EUR')).toBe(2);
    expect(currencyDecimals('JPY')).toBe(0);
    expect(currencyDecimals('KWD')).toBe(3);
    expect(formatMoney({ amount: 2500, currency: 'EUR' })).toBe('€25.00');
    expect(formatMoney({ amount: 2500, currency: 'JPY' })).toBe('¥2,500');
    expect(formatMoney({ amount: 1234, currency: 'KWD' })).toBe('KWD\u00a01.234');
    expect(formatMoney({ amount: 5, currency: 'USD' })).toBe('$0.05');
  });

  it('prints a code Intl refuses as cents and the code, rather than failing a mail or a PDF', () => {
    expect(currencyDecimals('E1')).toBe(2);
    expect(formatMoney({ amount: 1250, currency: 'E1' })).toBe('12.50 E1');
  });
});

describe('printable', () => {
  it('keeps Latin-1, strips accents the standard PDF fonts lack, and marks what has no such form', () => {
    expect(printable('Ana Kovač – Ørsted')).toBe('Ana Kovac ? Ørsted');
    expect(printable('Emina Hadžić')).toBe('Emina Hadzic');
  });
});
