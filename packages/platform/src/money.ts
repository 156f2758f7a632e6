/**
 * How many decimals an ISO 4217 currency's minor unit has (EUR 2, JPY 0, KWD 3); 2 for a code
 * this Node does not know, as most currencies.
 */
export function currencyDecimals(currency: string): number {
  try {
    return (
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ??
      2
    );
  } catch {
    return 2;
  }
}

/** "€25.00", "¥500": an amount in minor units, in its currency's own number of decimals. */
export function formatMoney({ amount, currency }: { amount: number; currency: string }): string {
  const value = amount / 10 ** currencyDecimals(currency);
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).format(value);
  } catch {
    return `${value.toFixed(2)} ${currency}`;
  }
}
