/**
 * The printable plan: one self-contained HTML page to hand to a family. No scripts, no external assets: one inline
 * <style> element (allowed by its SHA-256 in the page's Content-Security-Policy, nothing else is) and an inline SVG
 * bar chart of mastery by subject, repeated as a table for screen readers. Every value from the data goes through
 * `esc`. The page says plainly that the plan is not an IEP or a 504 plan.
 */
import { createHash } from 'node:crypto';
import { GOAL_STATUSES, SEL_LABELS, SEL_RATING_LABELS } from './model';
import type { Author, Entry, ImportedSupport, PlanDocument } from './document';
import type { SubjectMastery } from './progress';

export function esc(v: unknown): string {
  if (v === null || v === undefined) return '';
  return String(v).replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

// Colours meet WCAG AA contrast: text #1a1a1a on white (16:1); bar colours are labelled in text, never colour alone.
const STYLE = `
body{font-family:Georgia,"Times New Roman",serif;color:#1a1a1a;background:#fff;margin:2rem auto;max-width:52rem;padding:0 1rem;line-height:1.45}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{font-size:1.3rem;border-bottom:2px solid #1a1a1a;padding-bottom:.2rem;margin-top:2rem}
h3{font-size:1.1rem}.meta{color:#333}.note{border:2px solid #1a1a1a;padding:.6rem .8rem;background:#f3f3f3}
table{border-collapse:collapse;width:100%;margin:.6rem 0 1rem}caption{text-align:left;font-weight:bold;padding:.3rem 0}
th,td{border:1px solid #555;padding:.3rem .45rem;text-align:left;vertical-align:top}th{background:#e8e8e8}
ul{padding-left:1.3rem}.by{color:#333;font-size:.9rem}.empty{color:#333;font-style:italic}
svg text{font-family:Arial,Helvetica,sans-serif;font-size:12px;fill:#1a1a1a}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}table,figure{break-inside:avoid}}
`;

export const PRINT_STYLE_HASH = `sha256-${createHash('sha256').update(STYLE, 'utf8').digest('base64')}`;
/** The print view's policy: nothing may load or run; only this page's own <style> element applies. */
export const PRINT_CSP = `default-src 'none'; style-src '${PRINT_STYLE_HASH}'; img-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`;

const STATUS_LABEL: Record<(typeof GOAL_STATUSES)[number], string> = {
  not_started: 'Not started', in_progress: 'In progress', achieved: 'Achieved', revised: 'Revised', dropped: 'Dropped',
};

const ROLE_LABEL: Record<string, string> = { student: 'student', guardian: 'parent/guardian', teacher: 'teacher', administrator: 'administrator', service: 'school system' };

function by(a: Author, at: string): string {
  return `<span class="by">${esc(a.name ?? 'Unknown')} (${esc(ROLE_LABEL[a.role] ?? a.role)}), ${esc(at.slice(0, 10))}</span>`;
}

function statements(title: string, id: string, entries: Entry[], emptyText: string): string {
  const body = entries.length
    ? `<ul>${entries.map((e) => `<li>${esc(e.text)}${e.note ? ` — ${esc(e.note)}` : ''}<br>${by(e.author, e.createdAt)}</li>`).join('')}</ul>`
    : `<p class="empty">${esc(emptyText)}</p>`;
  return `<section aria-labelledby="${id}"><h2 id="${id}">${esc(title)}</h2>${body}</section>`;
}

function subjectLabel(s: SubjectMastery): string {
  return s.subject ?? 'Other';
}

/** Horizontal stacked bars (mastered / in progress / not started) per subject, with the counts written out. */
export function masteryChart(rows: SubjectMastery[]): string {
  if (!rows.length) return '<p class="empty">No competency mastery has been recorded yet.</p>';
  const labelW = 170;
  const barW = 360;
  const rowH = 30;
  const top = 34;
  const h = top + rows.length * rowH + 10;
  const colours = [['mastered', '#1b5e20', 'Mastered'], ['inProgress', '#1565c0', 'In progress'], ['notStarted', '#9e9e9e', 'Not started']] as const;
  const legend = colours.map(([, c, l], i) => `<rect x="${labelW + i * 120}" y="6" width="14" height="14" fill="${c}"/><text x="${labelW + i * 120 + 20}" y="18">${l}</text>`).join('');
  const bars = rows.map((s, i) => {
    const y = top + i * rowH;
    let x = labelW;
    const segs = colours.map(([k, c]) => {
      const w = s.total ? (s[k] / s.total) * barW : 0;
      const r = w > 0 ? `<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="20" fill="${c}"/>` : '';
      x += w;
      return r;
    }).join('');
    return `<text x="0" y="${y + 15}">${esc(subjectLabel(s).slice(0, 24))}</text>${segs}<text x="${labelW + barW + 8}" y="${y + 15}">${s.mastered}/${s.total} mastered</text>`;
  }).join('');
  const desc = rows.map((s) => `${subjectLabel(s)}: ${s.mastered} mastered, ${s.inProgress} in progress, ${s.notStarted} not started`).join('; ');
  return `<figure><svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="chart-title chart-desc" width="${labelW + barW + 130}" height="${h}" viewBox="0 0 ${labelW + barW + 130} ${h}">` +
    `<title id="chart-title">Competency mastery by subject</title><desc id="chart-desc">${esc(desc)}</desc>${legend}${bars}</svg>` +
    `<figcaption>Competency mastery by subject (the table below gives the same numbers).</figcaption></figure>`;
}

function table(caption: string, head: string[], rows: string[][]): string {
  return `<table><caption>${esc(caption)}</caption><thead><tr>${head.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead>` +
    `<tbody>${rows.map((r) => `<tr>${r.join('')}</tr>`).join('')}</tbody></table>`;
}
const td = (v: unknown) => `<td>${esc(v)}</td>`;
const tdHtml = (html: string) => `<td>${html}</td>`;

function goals(doc: PlanDocument): string {
  if (!doc.goals.length) return '<p class="empty">No goals yet.</p>';
  return table('Goals', ['Goal', 'What I need from my teachers', 'Competencies', 'Target date', 'Status', 'Written by'], doc.goals.map((g) => [
    td(g.statement), td(g.teacherSupport ?? ''),
    tdHtml(((g.competencies as { code: string | null; statement: string }[] | undefined) ?? []).map((c) => `${c.code ? `<strong>${esc(c.code)}</strong> ` : ''}${esc(c.statement)}`).join('<br>')),
    td(g.targetDate ?? ''), td(STATUS_LABEL[g.status as keyof typeof STATUS_LABEL] ?? g.status), tdHtml(by(g.author, g.createdAt)),
  ]));
}

function supports(doc: PlanDocument): string {
  const rows = [
    ...doc.supports.entered.map((s) => [td(s.title), td(s.provider ?? ''), td([s.startDate, s.endDate].filter(Boolean).join(' to ')), td(s.frequency ?? ''), td(s.outcome ?? s.status ?? ''), tdHtml(by(s.author, s.createdAt))]),
    ...doc.supports.imported.map((s: ImportedSupport) => [td(s.title), td(s.provider ?? ''), td([s.startDate, s.endDate].filter(Boolean).join(' to ')), td(s.frequency ?? ''), td(s.outcome ?? s.status ?? ''),
      td(`School records (${s.provenance.map((p) => p.connector).join(', ') || 'imported'})`)]),
  ];
  if (!rows.length) return '<p class="empty">No supports or interventions are recorded.</p>';
  return table('Supports and interventions', ['Support', 'Provided by', 'When', 'How often', 'Outcome', 'Source'], rows);
}

function sel(doc: PlanDocument): string {
  const rows = doc.socialEmotional.competencies.map((c) => {
    const e = c.latest;
    return [`<th scope="row">${esc(SEL_LABELS[c.competency as keyof typeof SEL_LABELS])}</th>`,
      td(e ? `${e.rating} — ${SEL_RATING_LABELS[e.rating as number] ?? ''}` : 'Not rated yet'), td(e?.observedOn ?? ''), td(e?.note ?? '')];
  });
  const notes = doc.socialEmotional.entries.filter((e) => e.rating === undefined);
  return table('Social-emotional competencies: latest rating (1 beginning to 4 exceeding)', ['Competency', 'Rating', 'Observed on', 'Note'], rows) +
    (notes.length ? `<ul>${notes.map((n) => `<li>${esc(SEL_LABELS[n.competency as keyof typeof SEL_LABELS])}: ${esc(n.note)} ${by(n.author, String(n.observedOn ?? n.createdAt))}</li>`).join('')}</ul>` : '');
}

function comments(doc: PlanDocument): string {
  if (!doc.comments.length) return '<p class="empty">No teacher comments yet.</p>';
  return `<ul>${doc.comments.map((c) => `<li>${esc(c.text)}<br>${by(c.author, c.createdAt)}${c.visibility === 'staff' ? ' <strong>(staff only)</strong>' : ''}</li>`).join('')}</ul>`;
}

function progress(doc: PlanDocument): string {
  const p = doc.progress;
  const m = p.mastery.bySubject;
  const pct = (n: number | null) => (n === null ? '' : `${Math.round(n * 100)}%`);
  const masteryTable = m.length ? table('Competency mastery by subject', ['Subject', 'Mastered', 'In progress', 'Not started', 'Average level'],
    m.map((s) => [`<th scope="row">${esc(subjectLabel(s))}</th>`, td(s.mastered), td(s.inProgress), td(s.notStarted), td(s.averageLevel === null ? '' : `${s.averageLevel} (${pct(s.averageShare)} of the scale)`)])) : '';
  const growth = p.growth.assessments.length
    ? table('Assessment results over time', ['Assessment', 'Results (date: score)', 'Change'], p.growth.assessments.map((a) => [
      td(a.title ?? a.assessmentId), td(a.results.map((r) => `${r.date}: ${r.value}${r.level ? ` (${r.level})` : ''}`).join('; ')), td(a.change === null ? '' : a.change > 0 ? `+${a.change}` : a.change)]))
    : '<p class="empty">No assessment results across administrations yet.</p>';
  const b = p.behaviour;
  const trend = { fewer: 'fewer referrals than', more: 'more referrals than', same: 'the same number of referrals as' }[b.trend];
  const behaviour = table('Behaviour: last 90 days and the 90 days before', ['Period', 'Referrals', 'Recognitions', 'Actions taken'], [
    ['<th scope="row">Last 90 days</th>', td(b.last90Days.referrals), td(b.last90Days.recognitions), td(b.last90Days.actions)],
    ['<th scope="row">Previous 90 days</th>', td(b.previous90Days.referrals), td(b.previous90Days.recognitions), td(b.previous90Days.actions)],
  ]) + `<p>The last 90 days had ${esc(trend)} the 90 days before.</p>`;
  const a = p.attendance;
  const attendance = a.rate === null ? '<p class="empty">No attendance information for this term.</p>'
    : `<p>Attendance${a.term ? ` in ${esc(a.term.title)}` : ''} (${esc(a.from)} to ${esc(a.to)}): <strong>${esc(pct(a.rate))}</strong> of ${esc(a.days)} school days; ${esc(a.absentDays)} days absent, ${esc(a.tardyDays)} days late.</p>`;
  return `<h3>Mastery by subject</h3>${masteryChart(m)}${masteryTable}<h3>Growth over time</h3>${growth}<h3>Behaviour</h3>${behaviour}<h3>Attendance</h3>${attendance}`;
}

export function renderPlanHtml(doc: PlanDocument): string {
  const l = doc.learner;
  const name = `${l.preferredGivenName ?? l.givenName ?? ''} ${l.familyName ?? ''}`.trim() || 'Learner';
  const section = (id: string, title: string, body: string) => `<section aria-labelledby="${id}"><h2 id="${id}">${esc(title)}</h2>${body}</section>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Personalized Learning Plan: ${esc(name)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>Personalized Learning Plan: ${esc(name)}</h1>
<p class="meta">${l.grades.length ? `Grade ${esc(l.grades.join(', '))} · ` : ''}Plan version ${esc(doc.version)}${doc.updatedAt ? `, last changed ${esc(doc.updatedAt.slice(0, 10))}` : ''} · Printed ${esc(doc.generatedAt.slice(0, 10))}</p>
<p class="note" role="note"><strong>Please note:</strong> ${esc(doc.notice)}</p>
</header>
<main>
${statements('Strengths', 'strengths', doc.strengths, 'No strengths recorded yet.')}
${statements('Challenges', 'challenges', doc.challenges, 'No challenges recorded yet.')}
${statements('Interests and motivations', 'interests', doc.interests, 'No interests recorded yet.')}
${statements('How I learn best', 'learning', doc.learningPreferences, 'No learning preferences recorded yet.')}
${section('goals', 'Goals', goals(doc))}
${section('supports', 'Supports and interventions', supports(doc))}
${statements('Accessibility needs', 'accessibility', doc.accessibility, 'No accessibility needs recorded.')}
${section('sel', 'Social-emotional learning', sel(doc))}
${section('comments', 'Teacher comments', comments(doc))}
${section('progress', 'Progress summary', progress(doc))}
</main>
<footer><p class="meta">${esc(doc.notice)}</p></footer>
</body>
</html>
`;
}
