// The Summit view's class list: search and sort (pure functions of the class data).

const SORTS = {
  images: (a, b) => b.images - a.images || a.index - b.index,
  name: (a, b) => a.name.localeCompare(b.name) || a.index - b.index,
  index: (a, b) => a.index - b.index,
};

export const SORT_KEYS = Object.keys(SORTS);

// Classes whose name contains the query (case-insensitive) or whose index is the query.
export function filterClasses(classes, query) {
  const wanted = String(query ?? "").trim().toLowerCase();
  if (!wanted) return classes.slice();
  return classes.filter((item) => item.name.toLowerCase().includes(wanted) || String(item.index) === wanted);
}

export function sortClasses(classes, key) {
  const compare = SORTS[key] ?? SORTS.images;
  return classes.slice().sort(compare);
}

export function visibleClasses(classes, query, key) {
  return sortClasses(filterClasses(classes, query), key);
}
