// Money as the API gives it: an integer amount in the currency's minor unit (cents for EUR,
// yen for JPY) and an ISO 4217 code. Intl knows each currency's number of decimals
// (resolvedOptions().maximumFractionDigits: 2 for EUR, 0 for JPY, 3 for KWD), so no page
// divides by 100 on its own.

const formatters = new Map();

function formatter(currency) {
  const code = String(currency || "").toUpperCase();
  if (!formatters.has(code)) {
    let made = null;
    try {
      made = new Intl.NumberFormat(undefined, { style: "currency", currency: code });
    } catch {
      made = null; // not a currency Intl knows: plain digits below
    }
    formatters.set(code, made);
  }
  return formatters.get(code);
}

/** How many decimals the currency's minor unit has (2 when Intl does not know it). */
export function fractionDigits(currency) {
  return formatter(currency)?.resolvedOptions().maximumFractionDigits ?? 2;
}

/** Minor units -> the major amount as a number: 4900 EUR -> 49, 4900 JPY -> 4900. */
export function toMajor(minor, currency) {
  return minor / 10 ** fractionDigits(currency);
}

/** A major amount typed by a person -> whole minor units: "49.90" EUR -> 4990. */
export function toMinor(major, currency) {
  return Math.round(Number(major || 0) * 10 ** fractionDigits(currency));
}

/** 4900, "EUR" -> "€49.00"; 4900, "JPY" -> "¥4,900"; negative amounts keep their sign. */
export function formatMoney(minor, currency) {
  const made = formatter(currency);
  const major = toMajor(Number(minor || 0), currency);
  if (made) return made.format(major);
  return `${major.toFixed(2)} ${String(currency || "").toUpperCase()}`;
}

/** A course's price as the catalog and the course page show it. */
export function coursePrice(course) {
  if (course.is_free || course.price_cents === 0) return "Free";
  return formatMoney(course.price_cents, course.currency);
}
