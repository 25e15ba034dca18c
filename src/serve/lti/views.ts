/**
 * Server-rendered HTML for the LTI pages: no front-end framework, no script except the deep-linking auto-submit.
 * Accessibility: a skip link, landmarks, one h1, tables with captions and `scope` on headers, every mastery cell
 * carries its level as text (colour only repeats it), forms with labels, visible focus, contrast >= 4.5:1 (the
 * palette below), and it works at 320 px wide inside an LMS iframe.
 */
import { GOAL_STATUSES } from '../../derive/plp/model';
import type { ClassData, LearnerData, MasteryRow, Signal } from './data';
import { normalised } from './data';

export function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export const CSS = `
:root{color-scheme:light;--ink:#1b1b1b;--muted:#4a4a4a;--line:#8a8a8a;--bg:#fff;--accent:#0b57a4}
*{box-sizing:border-box}body{font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg);margin:0}
main{padding:1rem;max-width:80rem}h1{font-size:1.5rem;margin:.25rem 0 1rem}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
a{color:var(--accent)}a:focus,button:focus,input:focus,select:focus,textarea:focus{outline:3px solid #b35c00;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem;z-index:2}
.scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;font-size:.875rem}caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{border:1px solid var(--line);padding:.25rem .4rem;text-align:left;vertical-align:top}thead th{background:#eee}
td.m{white-space:nowrap;text-align:center}.lv-m{background:#cfe8d5}.lv-p{background:#fff0c2}.lv-s{background:#f7d4d0}.lv-n{background:#fff}
.groups{display:flex;flex-wrap:wrap;gap:1rem}.groups section{border:1px solid var(--line);padding:.5rem .75rem;min-width:14rem}
ul{padding-left:1.2rem}.muted{color:var(--muted)}form{margin:.5rem 0;border:1px solid var(--line);padding:.5rem .75rem;max-width:40rem}
label{display:block;font-weight:600;margin:.25rem 0}input[type=text],textarea,select{width:100%;font:inherit;padding:.3rem;border:1px solid #555}
button{font:inherit;padding:.35rem .9rem;background:var(--accent);color:#fff;border:0;border-radius:3px;cursor:pointer}
.notice{border-left:4px solid var(--accent);padding:.5rem .75rem;background:#f2f6fb}.err{border-left-color:#a4000f;background:#fbeeee}
svg text{font:12px system-ui,sans-serif;fill:#1b1b1b}svg.chart{max-width:560px}label.inl{display:inline}form.inline{display:inline;border:0;padding:0;margin:0}form.inline label{display:inline;font-weight:400}form.inline select{width:auto}`;

export interface PageOptions {
  title: string;
  /** The session token, carried in links and forms (no cookie needed inside the LMS iframe). */
  s?: string;
  base: string;
}

export function page(o: PageOptions, body: string, extraHead = ''): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(o.title)} — Learner Data Hub</title><link rel="stylesheet" href="${esc(o.base)}/lti/app/static/hub.css">${extraHead}</head>
<body><a class="skip" href="#main">Skip to content</a><main id="main">${body}</main></body></html>`;
}

/** A link within the LTI pages, carrying the session. */
export function href(base: string, path: string, s?: string): string {
  return `${base}/lti/app${path}${s ? `${path.includes('?') ? '&' : '?'}s=${encodeURIComponent(s)}` : ''}`;
}

function levelClass(m: MasteryRow | undefined): string {
  if (!m) return 'lv-n';
  if (m.status === 'mastered') return 'lv-m';
  const v = normalised(m);
  if (v !== null && v < 0.45) return 'lv-s';
  return m.status === 'in_progress' ? 'lv-p' : 'lv-n';
}

const STATUS_TEXT: Record<MasteryRow['status'], string> = { mastered: 'Mastered', in_progress: 'In progress', not_started: 'Not started' };

function fmt(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '–';
  return String(Math.round(Number(n) * 10) / 10);
}

export function masteryText(m: MasteryRow | undefined): string {
  if (!m) return 'No evidence';
  return m.level === null || m.level === undefined ? STATUS_TEXT[m.status] : `${STATUS_TEXT[m.status]} ${fmt(m.level)}/${fmt(m.scale_max)}`;
}

function signalList(signals: Signal[], names?: Map<string, string>, linkOf?: (id: string) => string): string {
  if (!signals.length) return '<p class="muted">None recorded.</p>';
  const kind = { behaviour: 'Behaviour', positive: 'Positive behaviour', assessment: 'Assessment' } as const;
  return `<ul>${signals.map((s) => `<li><time datetime="${esc(s.date)}">${esc(s.date)}</time> — ${esc(kind[s.kind])}${names ? `, ${linkOf ? `<a href="${esc(linkOf(s.learnerId))}">${esc(names.get(s.learnerId) ?? '')}</a>` : esc(names.get(s.learnerId) ?? '')}` : ''}: ${esc(s.text)}</li>`).join('')}</ul>`;
}

export function classPage(d: ClassData, o: PageOptions & { context?: string }): string {
  const names = new Map(d.learners.map((l) => [l.id, l.name]));
  const link = (id: string) => href(o.base, `/learner/${encodeURIComponent(id)}`, o.s);
  const head = d.competencies.map((c) => `<th scope="col" title="${esc(c.statement)}"><abbr title="${esc(c.statement)}">${esc(c.code)}</abbr></th>`).join('');
  const rows = d.learners.map((l) => {
    const ms = d.mastery.get(l.id);
    const avg = d.average.get(l.id);
    const cells = d.competencies.map((c) => {
      const m = ms?.get(c.id);
      return `<td class="m ${levelClass(m)}">${esc(masteryText(m))}</td>`;
    }).join('');
    return `<tr><th scope="row"><a href="${esc(link(l.id))}">${esc(l.name)}</a></th><td class="m">${avg === null || avg === undefined ? 'No evidence' : `${Math.round(avg * 100)}%`}</td>${cells}</tr>`;
  }).join('');
  const groups = d.groups.map((g) => `<section aria-labelledby="g-${g.key}"><h3 id="g-${g.key}">${esc(g.label)} (${g.learners.length})</h3>${g.learners.length ? `<ul>${g.learners.map((l) => `<li><a href="${esc(link(l.id))}">${esc(l.name)}</a></li>`).join('')}</ul>` : '<p class="muted">Nobody.</p>'}</section>`).join('');
  const support = d.needsSupport.length
    ? `<ul>${d.needsSupport.map((n) => `<li><a href="${esc(link(n.learner.id))}">${esc(n.learner.name)}</a>: ${esc(n.reasons.join('; '))}</li>`).join('')}</ul>`
    : '<p class="muted">Nobody is flagged right now.</p>';
  const body = `<h1>${esc(d.title)}</h1>
<p class="muted">${d.learners.length} learner${d.learners.length === 1 ? '' : 's'}${o.context ? ` · course ${esc(o.context)}` : ''}. Mastery levels are shown as text; colours repeat them.</p>
<h2 id="support">Who needs support</h2>${support}
<h2 id="groups">Readiness groups</h2><div class="groups">${groups}</div>
<h2 id="mastery">Mastery by competency</h2>
${d.competencies.length ? `<div class="scroll" tabindex="0" role="region" aria-labelledby="heat-caption"><table><caption id="heat-caption">Mastery of each learner per competency (${d.competencies.length} competencies with the most evidence)</caption>
<thead><tr><th scope="col">Learner</th><th scope="col">Average</th>${head}</tr></thead><tbody>${rows}</tbody></table></div>` : '<p class="muted">No mastery has been computed for this class yet.</p>'}
<h2 id="signals">Recent behaviour and assessment signals</h2>${signalList(d.signals.slice(0, 40), names, link)}`;
  return page({ ...o, title: d.title }, body);
}

/** Horizontal bars, one per competency, level against the scale; a text equivalent is the table next to it. */
export function masteryChart(items: LearnerData['mastery']): string {
  const shown = items.slice(0, 24);
  const rowH = 22;
  const w = 560;
  const labelW = 150;
  const h = shown.length * rowH + 8;
  const bars = shown.map((x, i) => {
    const v = normalised(x.row) ?? 0;
    const y = 4 + i * rowH;
    const fill = x.row.status === 'mastered' ? '#2e7d32' : v < 0.45 ? '#b3261e' : '#8a6100';
    return `<g><text x="0" y="${y + 14}">${esc(x.competency.code.slice(0, 22))}</text><rect x="${labelW}" y="${y + 3}" width="${w - labelW - 60}" height="14" fill="#eee" stroke="#8a8a8a"/>`
      + `<rect x="${labelW}" y="${y + 3}" width="${Math.round((w - labelW - 60) * v)}" height="14" fill="${fill}"/><text x="${w - 55}" y="${y + 14}">${esc(masteryText(x.row).replace(/^(Mastered|In progress|Not started) /, ''))}</text></g>`;
  }).join('');
  return `<svg role="img" aria-labelledby="chart-title" viewBox="0 0 ${w} ${h}" width="100%" class="chart"><title id="chart-title">Mastery per competency (bar length = level on the scale)</title>${bars}</svg>`;
}

export interface PlanView {
  available: boolean;
  goals: { id: string; text: string; status: string }[];
  comments: { text: string; by?: string; at?: string }[];
  supports: { text: string }[];
}

export function learnerPage(d: LearnerData, o: PageOptions & { relation: string; learnerId: string; csrf: string; plan: PlanView; recordUrl: string; back?: string; others?: { id: string; name: string }[]; flash?: string }): string {
  const self = o.relation === 'self';
  const canEditGoals = self || o.relation === 'teacher' || o.relation === 'administrator';
  const isStaff = o.relation === 'teacher' || o.relation === 'administrator';
  const action = (what: string) => href(o.base, `/learner/${encodeURIComponent(o.learnerId)}/${what}`);
  const hidden = `<input type="hidden" name="s" value="${esc(o.s ?? '')}"><input type="hidden" name="csrf" value="${esc(o.csrf)}">`;
  const table = d.mastery.length
    ? `<table><caption>Mastery per competency</caption><thead><tr><th scope="col">Competency</th><th scope="col">Level</th><th scope="col">Evidence</th></tr></thead><tbody>${d.mastery.map((x) => `<tr><th scope="row"><abbr title="${esc(x.competency.statement)}">${esc(x.competency.code)}</abbr> <span class="muted">${esc(x.competency.statement.slice(0, 80))}</span></th><td>${esc(masteryText(x.row))}</td><td>${esc(x.row.evidence_count ?? 0)}</td></tr>`).join('')}</tbody></table>`
    : '<p class="muted">No mastery yet.</p>';
  const plan = o.plan.available
    ? `<h2 id="goals">Goals</h2>${o.plan.goals.length ? `<ul>${o.plan.goals.map((g) => `<li>${esc(g.text)} — <em>${esc(g.status)}</em>${canEditGoals ? ` <form method="post" action="${esc(action(`goals/${encodeURIComponent(g.id)}`))}" class="inline">${hidden}<label for="st-${esc(g.id)}">Status of “${esc(g.text.slice(0, 40))}”</label><select id="st-${esc(g.id)}" name="status">${GOAL_STATUSES.map((st) => `<option${st === g.status ? ' selected' : ''}>${st}</option>`).join('')}</select> <button type="submit">Update goal</button></form>` : ''}</li>`).join('')}</ul>` : '<p class="muted">No goals yet.</p>'}
${isStaff ? `<h2 id="comments">Teacher comments</h2>${o.plan.comments.length ? `<ul>${o.plan.comments.map((c) => `<li>${esc(c.text)}${c.at ? ` <span class="muted">(${esc(c.at.slice(0, 10))})</span>` : ''}</li>`).join('')}</ul>` : '<p class="muted">None.</p>'}
<h2 id="supports">Supports</h2>${o.plan.supports.length ? `<ul>${o.plan.supports.map((x) => `<li>${esc(x.text)}</li>`).join('')}</ul>` : '<p class="muted">None.</p>'}` : ''}
${canEditGoals ? `<form method="post" action="${esc(action('plan'))}">${hidden}<label for="kind">Add to the plan</label><select id="kind" name="kind"><option value="goal">Goal</option>${isStaff ? '<option value="comment">Comment</option><option value="support">Support</option>' : ''}</select><label for="text">Text</label><textarea id="text" name="text" rows="3" maxlength="2000" required></textarea><button type="submit">Add</button></form>` : ''}`
    : `<h2 id="plan">Plan</h2><p class="notice">The learner's plan (goals, comments, supports) is not installed in this hub yet. <a href="${esc(o.recordUrl)}">Learner record (API)</a></p>`;
  const others = o.others && o.others.length > 1 ? `<nav aria-label="Your learners"><ul>${o.others.map((x) => `<li>${x.id === o.learnerId ? `<strong aria-current="page">${esc(x.name)}</strong>` : `<a href="${esc(href(o.base, `/learner/${encodeURIComponent(x.id)}`, o.s))}">${esc(x.name)}</a>`}</li>`).join('')}</ul></nav>` : '';
  const body = `${o.back ? `<p><a href="${esc(o.back)}">← Back to the class</a></p>` : ''}${others}
<h1>${self ? 'My plan' : esc(d.learner.name)}</h1>${o.flash ? `<p class="notice" role="status">${esc(o.flash)}</p>` : ''}
${plan}
<h2 id="mastery">Mastery</h2>${d.mastery.length ? masteryChart(d.mastery) : ''}${table}
<h2 id="signals">Recent ${isStaff ? 'behaviour and assessment' : 'assessment'} results</h2>${signalList(d.signals.slice(0, 20))}`;
  return page({ ...o, title: self ? 'My plan' : d.learner.name }, body);
}

export function messagePage(o: PageOptions & { heading: string; message: string; ref?: string; error?: boolean }): string {
  return page(o, `<h1>${esc(o.heading)}</h1><p class="notice${o.error ? ' err' : ''}" role="${o.error ? 'alert' : 'status'}">${esc(o.message)}</p>${o.ref ? `<p class="muted">Reference for your district's support team: <code>${esc(o.ref)}</code></p>` : ''}`);
}

export function deepLinkPickerPage(o: PageOptions & { csrf: string; items: { value: string; label: string; help: string }[] }): string {
  const body = `<h1>Add a Learner Data Hub link to this course</h1>
<form method="post" action="${esc(href(o.base, '/deep-link'))}"><input type="hidden" name="s" value="${esc(o.s ?? '')}"><input type="hidden" name="csrf" value="${esc(o.csrf)}">
<fieldset><legend>Which page should the link open?</legend>${o.items.map((it, i) => `<p><input type="radio" id="dl-${i}" name="item" value="${esc(it.value)}"${i === 0 ? ' checked' : ''}> <label for="dl-${i}" class="inl">${esc(it.label)}</label><br><span class="muted">${esc(it.help)}</span></p>`).join('')}</fieldset>
<button type="submit">Add link</button></form>`;
  return page({ ...o, title: 'Add a link' }, body);
}

/** The auto-posting form that returns the signed deep-linking response (field JWT) to the platform. */
export function deepLinkReturnPage(o: PageOptions & { returnUrl: string; jwt: string; scriptNonce: string }): string {
  const body = `<h1>Returning to your course…</h1><form id="dl" method="post" action="${esc(o.returnUrl)}"><input type="hidden" name="JWT" value="${esc(o.jwt)}"><button type="submit">Continue</button></form>
<script nonce="${esc(o.scriptNonce)}">document.getElementById('dl').submit()</script>`;
  return page({ ...o, title: 'Returning to your course' }, body);
}
