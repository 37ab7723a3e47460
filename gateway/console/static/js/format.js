// Numbers as people read them. Money keeps six decimals below a cent, as the ledger counts micro-dollars.

export function usd(value) {
  const v = Number(value || 0);
  const digits = Math.abs(v) > 0 && Math.abs(v) < 0.01 ? 6 : Math.abs(v) < 100 ? 4 : 2;
  return "$" + v.toFixed(digits);
}

export function count(value) {
  return Number(value || 0).toLocaleString("en-US");
}

export function when(unixSeconds) {
  if (!unixSeconds) return "";
  return new Date(unixSeconds * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

export function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

export function defaultRange(days = 30) {
  const end = new Date();
  const start = new Date(end.getTime() - (days - 1) * 86400000);
  return { start: isoDay(start), end: isoDay(end) };
}

export function daysBetween(start, end) {
  // Every UTC day of the inclusive range, so a chart shows days without traffic as zero.
  const out = [];
  for (let t = Date.parse(start + "T00:00:00Z"); t <= Date.parse(end + "T00:00:00Z"); t += 86400000) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

export function limitText(effective, own) {
  return own ? count(effective) : `${count(effective)} (tier)`;
}
