// Tandem console: one page, no libraries. It talks to the API beside it with
// the session cookie (HttpOnly: this script never sees it) and sends the
// session's CSRF token on every change. It builds the page with DOM nodes and
// textContent only, never HTML from data.
'use strict';

const state = { session: null, lang: 'en', events: null, agents: null, timers: [], renderSeq: 0, picked: new Set(), bulkProgress: '' };
const main = () => document.getElementById('main');

// --- words ---------------------------------------------------------------

function t(key, vars) {
  const words = window.I18N[state.lang] || window.I18N.en;
  let s = words[key] ?? window.I18N.en[key] ?? key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replaceAll('{' + k + '}', String(v));
  return s;
}

// code shows a machine code (a status, a reason) in the reader's words when
// the console knows it, else as it is.
function code(prefix, value) {
  if (!value) return '—';
  const words = window.I18N[state.lang] || window.I18N.en;
  return words[prefix + value] ?? window.I18N.en[prefix + value] ?? value;
}

function setLang(lang) {
  state.lang = window.I18N[lang] ? lang : 'en';
  document.documentElement.lang = state.lang;
  localStorage.setItem('tandem.lang', state.lang);
  document.getElementById('lang').value = state.lang;
  for (const n of document.querySelectorAll('[data-t]')) n.textContent = t(n.dataset.t);
}

// --- DOM -----------------------------------------------------------------

function el(tag, attrs, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else if (k === 'text') n.textContent = v;
    else if (k === 'class') n.className = v;
    else n.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return n;
}

function svg(tag, attrs, ...children) {
  const n = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
  for (const c of children.flat(Infinity)) if (c) n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return n;
}

function say(text, kind) {
  const s = document.getElementById('status');
  s.textContent = text || '';
  s.className = kind || '';
}

function when(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleString(state.lang === 'en' ? undefined : state.lang);
}

// --- the API -------------------------------------------------------------

class APIError extends Error {
  constructor(status, body) {
    const fields = (body?.error?.fields || []).map((f) => f.field + ': ' + f.message).join('; ');
    super((body?.error?.message || ('HTTP ' + status)) + (fields ? ' — ' + fields : ''));
    this.status = status;
    this.code = body?.error?.code || '';
  }
}

// api calls the API; a change needing a second factor opens the step-up
// dialog for its class and is sent again once the person confirmed.
async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && state.session) headers['X-CSRF-Token'] = state.session.csrf_token;
  if (opts.idem) headers['Idempotency-Key'] = opts.idem;
  const res = await fetch(path, { method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401 && opts.stepUp && !opts.retried) {
    const err = await res.clone().json().catch(() => null);
    if (err?.error?.code === 'step_up_required') {
      await stepUp(opts.stepUp);
      return api(method, path, body, { ...opts, retried: true });
    }
  }
  if (opts.raw) {
    if (!res.ok) throw new APIError(res.status, await res.json().catch(() => null));
    return res;
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.status === 401 && data?.error?.code !== 'step_up_required' && !path.startsWith('/console/auth/')) {
    signedOut();
    throw new APIError(res.status, data);
  }
  if (!res.ok) throw new APIError(res.status, data);
  return data;
}

function can(objectAction) { return state.session?.can.includes(objectAction); }

// stepUp asks for a TOTP code and proves it for the action class; the proof
// comes back as a cookie.
function stepUp(cls) {
  const dlg = document.getElementById('stepup');
  const form = document.getElementById('stepup-form');
  const input = document.getElementById('stepup-code');
  const errorP = document.getElementById('stepup-error');
  document.getElementById('stepup-why').textContent = t('stepup_why_' + cls);
  input.value = '';
  errorP.textContent = '';
  return new Promise((resolve, reject) => {
    const cancel = () => { cleanup(); dlg.close(); reject(new APIError(401, { error: { code: 'step_up_cancelled', message: t('stepup_cancelled') } })); };
    const submit = async (ev) => {
      ev.preventDefault();
      try {
        await api('POST', '/v1/auth/step-up', { code: input.value.trim(), for: [cls] });
        cleanup(); dlg.close(); resolve();
      } catch (e) {
        errorP.textContent = e.code === 'totp_not_enrolled' ? t('stepup_not_enrolled') : e.message;
        input.select();
      }
    };
    const cleanup = () => {
      form.removeEventListener('submit', submit);
      document.getElementById('stepup-cancel').removeEventListener('click', cancel);
      dlg.removeEventListener('cancel', cancel);
    };
    form.addEventListener('submit', submit);
    document.getElementById('stepup-cancel').addEventListener('click', cancel);
    dlg.addEventListener('cancel', cancel);
    dlg.showModal();
    input.focus();
  });
}

// act runs a change and says how it went.
async function act(fn, done) {
  say(t('working'));
  try {
    await fn();
    say(done || t('done'), 'ok');
    await render();
  } catch (e) {
    say(e.message, 'error');
  }
}

// --- sign-in -------------------------------------------------------------

async function signIn() {
  clearTimers();
  stopEvents();
  state.session = null;
  document.getElementById('who').textContent = '';
  document.getElementById('signout').hidden = true;
  document.getElementById('nav').replaceChildren();
  const methods = await api('GET', '/console/auth/methods');
  const box = el('section', { class: 'signin', 'aria-labelledby': 'signin-title' },
    el('h1', { id: 'signin-title', text: t('sign_in') }));
  if (methods.oidc) {
    box.append(el('p', {}, el('a', { class: 'button', href: '/console/auth/login', id: 'oidc-login', text: t('sign_in_oidc') })));
  }
  if (methods.dev_users?.length) {
    box.append(el('h2', { text: t('dev_users') }), el('p', { class: 'warn', text: t('dev_users_note') }));
    const list = el('ul', { class: 'devusers' });
    for (const u of methods.dev_users) {
      list.append(el('li', {}, el('button', { type: 'button', 'data-user': u.id, onclick: async () => {
        try {
          state.session = await api('POST', '/console/auth/dev', { user: u.id });
          await started();
        } catch (e) { say(e.message, 'error'); }
      } }, u.id + ' — ' + u.roles.map((r) => code('role_', r)).join(', '))));
    }
    box.append(list);
  }
  if (!methods.oidc && !methods.dev_users?.length) box.append(el('p', { text: t('no_sign_in') }));
  main().replaceChildren(box);
}

function signedOut() {
  if (state.session) {
    state.session = null;
    say(t('session_ended'), 'error');
    signIn();
  }
}

async function started() {
  document.getElementById('who').textContent = t('signed_in_as', { user: state.session.subject, tenant: state.session.tenant });
  document.getElementById('signout').hidden = false;
  buildNav();
  startEvents();
  if (!location.hash || location.hash === '#') location.hash = '#/' + views()[0].id;
  else await render();
}

// --- views ---------------------------------------------------------------

function views() {
  const v = [];
  if (can('case.claim')) v.push({ id: 'work', label: 'nav_work' });
  if (can('case.reassign')) v.push({ id: 'supervise', label: 'nav_supervise' });
  if (can('case.search')) v.push({ id: 'search', label: 'nav_search' });
  if (can('refund.decide') && can('refund.list')) v.push({ id: 'approvals', label: 'nav_approvals' });
  if (can('stats.read')) v.push({ id: 'stats', label: 'nav_stats' });
  if (can('case.trail')) v.push({ id: 'audit', label: 'nav_audit' });
  if (can('self.mfa')) v.push({ id: 'security', label: 'nav_security' });
  return v;
}

function buildNav() {
  const nav = document.getElementById('nav');
  nav.replaceChildren(...views().map((v) => el('a', { href: '#/' + v.id, 'data-view': v.id, text: t(v.label) })));
}

async function render() {
  if (!state.session) return;
  clearTimers();
  const [, view, id] = location.hash.split('/');
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.view === view) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const allowed = views().map((v) => v.id);
  // Renders overlap (a click, then a live update): only the latest shows.
  const seq = ++state.renderSeq;
  let page;
  try {
    if (view === 'case' && id) page = await caseView(id);
    else if (!allowed.includes(view)) { location.hash = '#/' + allowed[0]; return; }
    else page = await ({ work: workView, supervise: superviseView, search: searchView, approvals: approvalsView, stats: statsView,
      audit: auditView, security: securityView })[view](id);
  } catch (e) {
    page = el('p', { class: 'error', role: 'alert', text: e.status === 404 ? t('not_found') : e.message });
  }
  if (seq === state.renderSeq) main().replaceChildren(page);
}

function clearTimers() { state.timers.forEach(clearInterval); state.timers = []; }

// countdown shows the time to an SLA deadline, every second.
function countdown(due, breached) {
  const n = el('span', { class: 'sla' });
  const tick = () => {
    if (breached) { n.textContent = t('sla_breached'); n.className = 'sla breached'; return; }
    if (!due) { n.textContent = '—'; return; }
    const ms = new Date(due) - Date.now();
    const abs = Math.abs(ms) / 1000;
    const hms = String(Math.floor(abs / 3600) % 24).padStart(2, '0') + ':' + String(Math.floor(abs / 60) % 60).padStart(2, '0') + ':' + String(Math.floor(abs) % 60).padStart(2, '0');
    const text = abs >= 86400 ? t('days', { n: Math.floor(abs / 86400) }) + ' ' + hms : hms;
    n.textContent = ms < 0 ? t('sla_overdue', { time: text }) : t('sla_left', { time: text });
    n.className = 'sla ' + (ms < 0 ? 'breached' : ms < 15 * 60 * 1000 ? 'warning' : 'ok');
  };
  tick();
  state.timers.push(setInterval(tick, 1000));
  return n;
}

function caseTable(cases, columns) {
  if (!cases.length) return el('p', { class: 'empty', text: t('no_cases') });
  const head = el('tr', {}, columns.map((c) => el('th', { scope: 'col', text: c === 'pick' ? '' : t('col_' + c) })));
  const rows = cases.map((c) => el('tr', { 'data-case': c.id }, columns.map((col) => el('td', {}, cell(c, col)))));
  return el('table', { class: 'cases' }, el('thead', {}, head), el('tbody', {}, rows));
}

function cell(c, col) {
  switch (col) {
    case 'subject': return el('a', { href: '#/case/' + c.id, text: c.subject || c.id });
    case 'status': return code('status_', c.status);
    case 'queue': return c.queue || '—';
    case 'assignee': return c.assignee || (c.offered_to ? t('offered_to', { agent: c.offered_to }) : '—');
    case 'reason': return code('reason_', c.escalation_reason);
    case 'sla': return countdown(c.sla_due_at, c.sla_breached_at);
    case 'priority': return code('priority_', c.priority);
    case 'opened': return when(c.opened_at);
    case 'customer': return c.customer_ref;
    case 'pick': return el('input', { type: 'checkbox', class: 'pick', value: c.id, checked: state.picked.has(c.id), 'aria-label': t('select_case'),
      onchange: (ev) => (ev.target.checked ? state.picked.add(c.id) : state.picked.delete(c.id)) });
    default: return '';
  }
}

const withPerson = ['assigned', 'in_progress', 'waiting_on_customer'];

// listCases reads the newest 500 cases the person may see (the API pages them).
async function listCases() {
  let cases = [];
  let cursor = '';
  for (let page = 0; page < 5; page++) {
    const list = await api('GET', '/v1/cases?limit=100' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    cases = cases.concat(list.cases);
    if (!list.next_cursor) break;
    cursor = list.next_cursor;
  }
  return cases;
}

async function workView() {
  const me = state.session.subject;
  const cases = await listCases();
  const mine = cases.filter((c) => withPerson.includes(c.status) && c.assignee === me);
  const offered = cases.filter((c) => c.status === 'queued' && (c.offered_to === me || !c.offered_to));
  mine.sort(bySLA);
  offered.sort(bySLA);
  const page = el('section', { 'aria-labelledby': 'work-title' }, el('h1', { id: 'work-title', text: t('nav_work') }));
  page.append(await availabilityPanel(me));
  page.append(el('h2', { text: t('offers') }), el('div', { id: 'offers' }, caseTable(offered, ['subject', 'queue', 'reason', 'assignee', 'sla', 'priority'])));
  page.append(el('h2', { text: t('my_cases') }), el('div', { id: 'mine' }, caseTable(mine, ['subject', 'status', 'reason', 'sla', 'priority'])));
  return page;
}

function bySLA(a, b) {
  const ka = a.sla_breached_at ? 0 : 1, kb = b.sla_breached_at ? 0 : 1;
  if (ka !== kb) return ka - kb;
  return (a.sla_due_at ? Date.parse(a.sla_due_at) : Infinity) - (b.sla_due_at ? Date.parse(b.sla_due_at) : Infinity);
}

async function availabilityPanel(me) {
  let agent = null;
  try { agent = (await api('GET', '/v1/agents/' + encodeURIComponent(me))).agent; } catch (e) { if (e.status !== 404) throw e; }
  const status = el('select', { id: 'availability', 'aria-label': t('availability') },
    ['available', 'away', 'offline'].map((s) => el('option', { value: s, selected: (agent?.status || 'offline') === s, text: code('avail_', s) })));
  const capacity = el('input', { id: 'capacity', type: 'number', min: 0, max: 50, value: agent?.capacity || 3, 'aria-label': t('capacity') });
  const form = el('form', { class: 'row availability', onsubmit: (ev) => {
    ev.preventDefault();
    act(() => api('PUT', '/v1/agents/' + encodeURIComponent(me) + '/availability', { status: status.value, capacity: Number(capacity.value) }), t('saved'));
  } }, el('label', {}, t('availability'), ' ', status), el('label', {}, t('capacity'), ' ', capacity),
  el('button', { type: 'submit', id: 'save-availability', text: t('save') }),
  el('span', { class: 'muted', text: agent ? t('queues_are', { queues: (agent.queues || []).join(', ') || '—' }) : '' }));
  return form;
}

async function caseView(id) {
  const me = state.session.subject;
  const data = await api('GET', '/v1/cases/' + encodeURIComponent(id) + '?limit=200');
  const c = data.case;
  const page = el('section', { 'aria-labelledby': 'case-title', class: 'case' },
    el('p', {}, el('a', { href: '#/' + views()[0].id, text: t('back'), onclick: (ev) => { ev.preventDefault(); history.back(); } })),
    el('h1', { id: 'case-title', text: c.subject || c.id }),
    el('dl', { class: 'facts' },
      el('dt', { text: t('col_status') }), el('dd', { id: 'case-status', text: code('status_', c.status) }),
      el('dt', { text: t('col_customer') }), el('dd', { text: c.customer_ref }),
      el('dt', { text: t('col_queue') }), el('dd', { text: c.queue || '—' }),
      el('dt', { text: t('col_assignee') }), el('dd', { text: c.assignee || '—' }),
      el('dt', { text: t('col_reason') }), el('dd', { text: code('reason_', c.escalation_reason) }),
      el('dt', { text: t('col_sla') }), el('dd', {}, countdown(c.sla_due_at, c.sla_breached_at)),
      el('dt', { text: t('col_priority') }), el('dd', { id: 'case-priority', text: code('priority_', c.priority) }),
      el('dt', { text: t('tags') }), el('dd', { id: 'case-tags', text: (c.tags || []).join(', ') || '—' }),
      ...Object.entries(c.fields || {}).flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { 'data-field': k, text: v })])));
  const actions = el('div', { class: 'actions', id: 'actions' });
  page.append(actions);
  const claimable = c.status === 'queued' && (!c.offered_to || c.offered_to === me) && can('case.claim');
  if (claimable) {
    actions.append(el('button', { type: 'button', id: 'claim', onclick: () => act(() => api('POST', '/v1/cases/' + c.id + '/claim'), t('claimed')) }, t('claim')));
  }
  const owner = withPerson.includes(c.status) && c.assignee === me;
  if ((owner || claimable) && can('case.claim')) {
    try { page.append(handoffPanel(await api('GET', '/v1/cases/' + c.id + '/handoff'), owner)); } catch (e) { if (e.status !== 404 && e.status !== 409) throw e; }
  }
  if (owner) {
    page.append(ownerActions(c));
    if (can('macro.read')) page.querySelector('.owner h2').after(await macroPicker(c));
  }
  if (can('case.reassign') && c.status !== 'closed' && c.status !== 'resolved') page.append(await reassignForm(c));
  const splittable = can('case.split') && c.status !== 'closed';
  page.append(el('h2', { text: t('conversation') }), transcript(c.id, data.messages || [], splittable));
  if (splittable && (data.messages || []).some((m) => m.author_kind === 'customer' && !m.erased)) page.append(splitForm(c));
  if (can('case.set_fields') && c.status !== 'closed') page.append(await fieldsForm(c));
  if (can('case.note') && c.status !== 'closed') page.append(noteForm(c));
  if (can('case.merge') && c.status !== 'closed') page.append(mergeForm(c));
  if (c.merged_into) page.append(el('p', { id: 'merged-into' }, t('merged_into'), ' ', el('a', { href: '#/case/' + c.merged_into, text: c.merged_into })));
  if (can('case.trail')) page.append(el('p', {}, el('a', { href: '#/audit/' + c.id, text: t('open_trail') })));
  return page;
}

// transcript shows the conversation; pickable puts a box beside each
// customer message, to split chosen ones into a case of their own.
function transcript(caseID, messages, pickable) {
  return el('ol', { class: 'transcript', id: 'transcript' }, messages.map((m) => el('li', { class: 'msg ' + m.author_kind + (m.internal ? ' note' : '') },
    pickable && m.author_kind === 'customer' && !m.erased
      ? el('input', { type: 'checkbox', class: 'split-pick', value: String(m.seq), 'aria-label': t('split_pick', { seq: m.seq }) }) : null,
    el('span', { class: 'who', text: (m.internal ? t('note') + ' · ' : '') + code('author_', m.author_kind) + (m.author_id ? ' · ' + m.author_id : '') + ' · ' + when(m.at) }),
    el('p', { text: m.erased ? t('erased') : m.body }),
    m.mentions?.length ? el('span', { class: 'muted', text: t('mentions', { agents: m.mentions.join(', ') }) }) : null,
    m.attachments?.length ? attachmentList(caseID, m.attachments) : null,
    m.author_kind === 'ai' ? el('span', { class: 'muted', text: t('ai_marks', { model: m.model || '—', article: m.article_id || '—', version: m.article_version || '—' }) }) : null)));
}

// fieldsForm tags the case and sets its custom fields, each as the
// tenant's schema types it; an empty value clears a field.
async function fieldsForm(c) {
  const schema = can('case_field.read') ? (await api('GET', '/v1/admin/case-fields')).fields : [];
  const tags = el('input', { id: 'add-tags', placeholder: t('tags_hint'), 'aria-label': t('tags') });
  const inputs = schema.map((f) => {
    const id = 'field-' + f.name, value = (c.fields || {})[f.name] ?? '';
    const input = f.type === 'enum' || f.type === 'boolean'
      ? el('select', { id }, ['', ...(f.type === 'enum' ? f.options : ['true', 'false'])].map((o) => el('option', { value: o, selected: o === value, text: o || '—' })))
      : el('input', { id, value, type: f.type === 'number' ? 'number' : f.type === 'date' ? 'date' : 'text' });
    return { f, input, label: el('label', {}, f.name + (f.required ? ' *' : ''), ' ', input) };
  });
  return el('form', { class: 'fields-form', id: 'fields-form', onsubmit: (ev) => {
    ev.preventDefault();
    const fields = {};
    for (const { f, input } of inputs) {
      const v = input.value.trim(), had = (c.fields || {})[f.name] ?? '';
      if (v === had) continue;
      fields[f.name] = v === '' ? null : f.type === 'number' ? Number(v) : f.type === 'boolean' ? v === 'true' : v;
    }
    const add = tags.value.split(',').map((x) => x.trim()).filter(Boolean);
    act(() => api('POST', '/v1/cases/' + c.id + '/fields', { add_tags: add, fields }, { idem: 'console-' + crypto.randomUUID() }), t('saved'));
  } }, el('h3', { text: t('tags_and_fields') }), el('div', { class: 'row' }, el('label', {}, t('tags'), ' ', tags), ...inputs.map((i) => i.label)),
  el('div', { class: 'row' }, el('button', { type: 'submit', id: 'save-fields', text: t('save') })));
}

// macroPicker applies one of the macros the agent may use to the case.
async function macroPicker(c) {
  const { macros } = await api('GET', '/v1/macros');
  if (!macros.length) return '';
  const pick = el('select', { id: 'macro', 'aria-label': t('macro') }, macros.map((m) => el('option', { value: m.id, text: m.name + (m.owner ? ' (' + t('personal') + ')' : '') })));
  const lang = el('select', { id: 'macro-language', 'aria-label': t('language') }, ['en', 'zh-Hans', 'zh-Hant'].map((l) => el('option', { value: l, selected: l === state.lang, text: l })));
  return el('div', { class: 'row macro-picker' }, el('label', {}, t('macro'), ' ', pick), lang,
    el('button', { type: 'button', id: 'apply-macro', onclick: () => act(() => api('POST', '/v1/cases/' + c.id + '/macros/' + pick.value, { language: lang.value },
      { idem: 'console-' + crypto.randomUUID() }), t('macro_applied')) }, t('apply_macro')));
}

// attachmentList shows a message's files: images inline, others as
// downloads; an erased one by its type and size only.
function attachmentList(caseID, files) {
  return el('ul', { class: 'attachments' }, files.map((a) => {
    const href = '/v1/cases/' + caseID + '/attachments/' + a.id;
    const label = (a.erased ? t('erased') : a.name) + ' (' + a.content_type + ', ' + Math.max(1, Math.round(a.size / 1024)) + ' KiB)';
    if (a.erased) return el('li', { class: 'muted', text: label });
    return el('li', { 'data-attachment': a.id }, a.content_type.startsWith('image/') ? el('img', { src: href, alt: a.name, class: 'attachment' }) : null,
      el('a', { href, download: a.name, text: label }));
  }));
}

// splitForm starts a new case of the customer from the customer messages
// ticked in the transcript, and opens it.
function splitForm(c) {
  const subject = el('input', { id: 'split-subject', placeholder: t('split_subject'), 'aria-label': t('split_subject'), size: 38 });
  return el('form', { class: 'row split-form', onsubmit: async (ev) => {
    ev.preventDefault();
    const seqs = [...document.querySelectorAll('.split-pick:checked')].map((b) => Number(b.value));
    if (!seqs.length) { say(t('split_none'), 'error'); return; }
    try {
      const out = await api('POST', '/v1/cases/' + c.id + '/split', { message_seqs: seqs, subject: subject.value.trim() || undefined });
      say(t('split_done'), 'ok');
      location.hash = '#/case/' + out.case.id;
    } catch (e) { say(e.message, 'error'); }
  } }, el('label', {}, t('split_label'), ' ', subject), el('button', { type: 'submit', id: 'split', text: t('split') }));
}

// mergeForm merges this case, a duplicate, into another of its customer.
function mergeForm(c) {
  const into = el('input', { id: 'merge-into', placeholder: t('merge_hint'), 'aria-label': t('merge_hint'), size: 38 });
  return el('form', { class: 'row merge-form', onsubmit: (ev) => {
    ev.preventDefault();
    act(() => api('POST', '/v1/cases/' + c.id + '/merge', { into: into.value.trim() }), t('merged'));
  } }, el('label', {}, t('merge_into'), ' ', into), el('button', { type: 'submit', id: 'merge', text: t('merge') }));
}

// noteForm writes a note for the staff: never shown to the customer; an
// @agent-id in it notifies that agent.
function noteForm(c) {
  const body = el('textarea', { id: 'note-body', rows: 3, maxlength: 8000, 'aria-label': t('note') });
  return el('form', { class: 'note-form', id: 'note-form', onsubmit: (ev) => {
    ev.preventDefault();
    if (!body.value.trim()) { say(t('empty_note'), 'error'); return; }
    act(() => api('POST', '/v1/cases/' + c.id + '/notes', { body: body.value }, { idem: 'console-' + crypto.randomUUID() }), t('noted'));
  } }, el('h3', { text: t('add_note') }), el('p', { class: 'muted', text: t('note_hint') }), body,
  el('div', { class: 'row' }, el('button', { type: 'submit', id: 'add-note', text: t('add_note') })));
}

function handoffPanel(h, owner) {
  const trend = h.sentiment_trend || 'unknown';
  const panel = el('section', { class: 'handoff', id: 'handoff', 'aria-labelledby': 'handoff-title' },
    el('h2', { id: 'handoff-title', text: t('handoff') }),
    el('dl', { class: 'facts' },
      el('dt', { text: t('summary') }), el('dd', { id: 'handoff-summary', text: h.summary }),
      el('dt', { text: t('col_reason') }), el('dd', { text: code('reason_', h.reason) }),
      el('dt', { text: t('intent') }), el('dd', { text: h.intent || '—' }),
      el('dt', { text: t('sentiment') }), el('dd', {}, code('trend_', trend), ' ', sparkline(h.sentiment || []))));
  if (h.already_answered?.length) {
    panel.append(el('h3', { text: t('ai_answered') }), el('ul', {}, h.already_answered.map((m) => el('li', { text: m.body }))));
  }
  if (h.suggested_reply) {
    const s = h.suggested_reply;
    panel.append(el('h3', { text: t('suggested_reply') }), el('blockquote', { id: 'suggestion', text: s.text }),
      el('p', { class: 'muted', text: t('suggestion_source', { article: s.article_id, confidence: Math.round(s.confidence * 100) }) }));
    if (owner) panel.append(el('button', { type: 'button', id: 'use-suggestion', onclick: () => { document.getElementById('reply-body').value = s.text; document.getElementById('reply-body').focus(); } }, t('use_suggestion')));
  }
  return panel;
}

function sparkline(points) {
  if (!points.length) return '';
  const w = 120, h = 24;
  const xs = points.map((_, i) => (points.length === 1 ? w / 2 : (i * w) / (points.length - 1)));
  const ys = points.map((p) => h - ((p.negativity ?? 0) * h));
  const d = xs.map((x, i) => (i ? 'L' : 'M') + x.toFixed(1) + ' ' + ys[i].toFixed(1)).join(' ');
  return svg('svg', { width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: 'img', 'aria-label': t('sentiment') }, svg('path', { d, fill: 'none', stroke: 'currentColor', 'stroke-width': 2 }));
}

// uploadFiles uploads the files chosen in an input to the case, and
// returns their IDs for the message that carries them.
async function uploadFiles(caseID, input) {
  const ids = [];
  for (const file of input.files) {
    const form = new FormData();
    form.append('file', file, file.name);
    const res = await fetch('/v1/cases/' + caseID + '/attachments', { method: 'POST', credentials: 'same-origin', body: form,
      headers: { Accept: 'application/json', 'X-CSRF-Token': state.session.csrf_token, 'Idempotency-Key': 'console-' + crypto.randomUUID() } });
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new APIError(res.status, data);
    ids.push(data.attachment.id);
  }
  return ids;
}

function ownerActions(c) {
  const body = el('textarea', { id: 'reply-body', rows: 4, maxlength: 8000, 'aria-label': t('reply') });
  const files = el('input', { type: 'file', id: 'reply-files', multiple: true, accept: 'image/jpeg,image/png,image/gif,application/pdf,text/plain', 'aria-label': t('attach') });
  const idem = () => 'console-' + crypto.randomUUID();
  const send = (path) => () => {
    if (!body.value.trim()) { say(t('empty_reply'), 'error'); return; }
    act(async () => {
      const ids = await uploadFiles(c.id, files);
      await api('POST', '/v1/cases/' + c.id + path, { body: body.value, attachment_ids: ids.length ? ids : undefined }, { idem: idem() });
    }, t('sent'));
  };
  const resolveCode = el('select', { id: 'resolve-code', 'aria-label': t('resolution_code') },
    ['answered', 'refunded', 'replaced', 'duplicate', 'no_response', 'other'].map((r) => el('option', { value: r, text: code('resolution_', r) })));
  const box = el('section', { class: 'owner', 'aria-labelledby': 'owner-title' }, el('h2', { id: 'owner-title', text: t('your_reply') }), body,
    el('label', { class: 'row' }, t('attach'), ' ', files),
    el('div', { class: 'row' },
      el('button', { type: 'button', id: 'send-reply', onclick: send('/reply') }, t('send_reply')),
      el('button', { type: 'button', id: 'request-info', onclick: send('/request-info') }, t('request_info'))),
    el('div', { class: 'row' },
      el('label', {}, t('resolution_code'), ' ', resolveCode),
      el('button', { type: 'button', id: 'resolve', onclick: () => act(() => api('POST', '/v1/cases/' + c.id + '/resolve', { code: resolveCode.value }), t('resolved')) }, t('resolve')),
      el('button', { type: 'button', id: 'release', onclick: () => act(() => api('POST', '/v1/cases/' + c.id + '/release'), t('released')) }, t('release')),
      el('button', { type: 'button', id: 'escalate', onclick: () => act(() => api('POST', '/v1/cases/' + c.id + '/escalate'), t('escalated')) }, t('escalate'))));
  if (can('refund.request')) box.append(refundForm(c));
  return box;
}

function refundForm(c) {
  const f = (id, label, attrs) => el('label', {}, t(label), ' ', el('input', { id, ...attrs }));
  const kind = el('select', { id: 'refund-kind' }, ['refund', 'goodwill_credit', 'coupon', 'fee_waiver', 'shipping_refund'].map((k) => el('option', { value: k, text: code('kind_', k) })));
  const form = el('form', { class: 'refund', id: 'refund-form', onsubmit: (ev) => {
    ev.preventDefault();
    const v = (id) => document.getElementById(id).value.trim();
    act(() => api('POST', '/v1/cases/' + c.id + '/refunds', { order_ref: v('refund-order'), amount: v('refund-amount'), currency: v('refund-currency').toUpperCase(),
      reason_code: v('refund-reason'), kind: kind.value }, { idem: 'console-' + crypto.randomUUID() }), t('refund_requested'));
  } }, el('h3', { text: t('request_refund') }),
  f('refund-order', 'order_ref', { required: true, maxlength: 64 }), f('refund-amount', 'amount', { required: true, pattern: '[0-9]+(\\.[0-9]{1,2})?', inputmode: 'decimal' }),
  f('refund-currency', 'currency', { required: true, pattern: '[A-Za-z]{3}', value: 'EUR', size: 4 }), f('refund-reason', 'reason_code', { required: true, pattern: '[a-z][a-z_]*', value: 'damaged' }),
  el('label', {}, t('kind'), ' ', kind), el('button', { type: 'submit', text: t('request_refund') }));
  return form;
}

async function reassignForm(c) {
  if (!state.agents) state.agents = (await api('GET', '/v1/agents')).agents || [];
  const pick = el('select', { id: 'reassign-to', 'aria-label': t('reassign_to') }, state.agents.map((a) => el('option', { value: a.agent_id, text: a.agent_id + ' (' + code('avail_', a.status) + ')' })));
  return el('form', { class: 'row', onsubmit: (ev) => {
    ev.preventDefault();
    act(() => api('POST', '/v1/cases/' + c.id + '/reassign', { agent_id: pick.value }), t('reassigned'));
  } }, el('label', {}, t('reassign_to'), ' ', pick), el('button', { type: 'submit', id: 'reassign', text: t('reassign') }));
}

// superviseView: every open case, breaches and warnings first.
async function superviseView() {
  const cases = await listCases();
  const open = cases.filter((c) => c.status !== 'closed' && c.status !== 'resolved');
  const filters = { status: el('select', { id: 'f-status' }), queue: el('select', { id: 'f-queue' }), reason: el('select', { id: 'f-reason' }) };
  for (const [k, sel] of Object.entries(filters)) {
    const values = [...new Set(open.map((c) => (k === 'reason' ? c.escalation_reason : c[k])).filter(Boolean))].sort();
    sel.append(el('option', { value: '', text: t('all') }), ...values.map((v) => el('option', { value: v, text: k === 'queue' ? v : code(k === 'status' ? 'status_' : 'reason_', v) })));
  }
  const table = el('div', { id: 'open-cases' });
  const draw = () => {
    const shown = open.filter((c) => (!filters.status.value || c.status === filters.status.value) &&
      (!filters.queue.value || c.queue === filters.queue.value) && (!filters.reason.value || c.escalation_reason === filters.reason.value));
    shown.sort(bySLA);
    clearTimers();
    table.replaceChildren(caseTable(shown, can('bulk.run') ? ['pick', 'subject', 'status', 'queue', 'assignee', 'reason', 'sla', 'priority'] : ['subject', 'status', 'queue', 'assignee', 'reason', 'sla', 'priority']));
  };
  Object.values(filters).forEach((s) => s.addEventListener('change', draw));
  const breached = open.filter((c) => c.sla_breached_at).length;
  const warning = open.filter((c) => !c.sla_breached_at && c.sla_due_at && Date.parse(c.sla_due_at) - Date.now() < 15 * 60 * 1000).length;
  draw();
  return el('section', { 'aria-labelledby': 'sup-title' }, el('h1', { id: 'sup-title', text: t('nav_supervise') }),
    el('p', { id: 'sla-summary', text: t('sla_summary', { open: open.length, breached, warning }) }),
    el('div', { class: 'row filters' }, el('label', {}, t('col_status'), ' ', filters.status), el('label', {}, t('col_queue'), ' ', filters.queue), el('label', {}, t('col_reason'), ' ', filters.reason)),
    can('bulk.run') ? bulkBar() : '', table);
}

// bulkBar closes, tags, reassigns or sets a field of the selected cases as
// one bulk action, and shows its progress until it has finished. The
// selection and the progress live in state, so a live redraw of the page
// keeps them.
function bulkBar() {
  const action = el('select', { id: 'bulk-action', 'aria-label': t('bulk_action') },
    ['close', 'tag', 'reassign', 'field'].map((a) => el('option', { value: a, text: t('bulk_' + a) })));
  const value = el('input', { id: 'bulk-value', placeholder: t('bulk_value_hint'), 'aria-label': t('bulk_value_hint') });
  const progress = el('p', { id: 'bulk-progress', class: 'muted', 'aria-live': 'polite', text: state.bulkProgress || '' });
  const show = (b) => {
    state.bulkProgress = t('bulk_progress', { done: b.counts.done, failed: b.counts.failed, cancelled: b.counts.cancelled, total: b.total, status: b.status });
    const p = document.getElementById('bulk-progress');
    if (p) p.textContent = state.bulkProgress;
  };
  // request is the bulk action the bar describes, or why it cannot be.
  const request = async (ids) => {
    const v = value.value.trim();
    switch (action.value) {
      case 'close': return { action: 'close', case_ids: ids, reason: v || 'bulk_closed' };
      case 'tag': return { action: 'set_fields', case_ids: ids, add_tags: v.split(',').map((x) => x.trim()).filter(Boolean) };
      case 'reassign': return v ? { action: 'reassign', case_ids: ids, to: v } : t('bulk_need_agent');
    }
    const [name, raw] = v.split('=').map((x) => x.trim());
    if (!name || raw === undefined) return t('bulk_need_field');
    const schema = can('case_field.read') ? (await api('GET', '/v1/admin/case-fields')).fields : [];
    const f = schema.find((x) => x.name === name);
    const typed = f?.type === 'number' ? Number(raw) : f?.type === 'boolean' ? raw === 'true' : raw;
    return { action: 'set_fields', case_ids: ids, fields: { [name]: typed } };
  };
  const start = async () => {
    const ids = [...state.picked];
    if (!ids.length) { say(t('bulk_none'), 'error'); return; }
    state.bulkProgress = progress.textContent = ''; // the last action's line is not this one's
    try {
      const body = await request(ids);
      if (typeof body === 'string') { say(body, 'error'); return; }
      let { bulk } = await api('POST', '/v1/bulk', body, { idem: 'console-' + crypto.randomUUID() });
      state.picked.clear();
      show(bulk);
      while (bulk.status === 'running') {
        await new Promise((r) => setTimeout(r, 1000));
        ({ bulk } = await api('GET', '/v1/bulk/' + bulk.id + '?limit=1'));
        show(bulk);
      }
    } catch (e) { say(e.message, 'error'); }
  };
  return el('div', { class: 'row bulk' }, el('label', {}, t('bulk_action'), ' ', action), value,
    el('button', { type: 'button', id: 'bulk-start', onclick: start }, t('bulk_start')), progress);
}

// searchView finds cases by the words of their conversations (messages,
// notes, subject); the query lives in the address, #/search/<words>.
async function searchView(encoded) {
  const query = encoded ? decodeURIComponent(encoded) : '';
  const input = el('input', { id: 'search-q', type: 'search', value: query, placeholder: t('search_hint'), 'aria-label': t('search_hint'), size: 40 });
  const form = el('form', { class: 'row', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    if (input.value.trim()) location.hash = '#/search/' + encodeURIComponent(input.value.trim());
  } }, input, el('button', { type: 'submit', id: 'search-go', text: t('search') }));
  const page = el('section', { 'aria-labelledby': 'search-title' }, el('h1', { id: 'search-title', text: t('nav_search') }), form);
  if (query) {
    const { cases } = await api('GET', '/v1/cases?limit=100&q=' + encodeURIComponent(query));
    page.append(el('div', { id: 'search-results' }, caseTable(cases || [], ['subject', 'status', 'queue', 'assignee', 'opened', 'customer'])));
  }
  return page;
}

async function approvalsView() {
  const [waiting, appealed] = await Promise.all([api('GET', '/v1/refunds?status=awaiting_approval&limit=100'), api('GET', '/v1/refunds?status=appealed&limit=100')]);
  const refunds = [...(waiting.refunds || []), ...(appealed.refunds || [])];
  const page = el('section', { 'aria-labelledby': 'appr-title' }, el('h1', { id: 'appr-title', text: t('nav_approvals') }), el('p', { class: 'muted', text: t('four_eyes_note') }));
  if (!refunds.length) page.append(el('p', { class: 'empty', text: t('no_approvals') }));
  else {
    page.append(el('table', { class: 'refunds' }, el('thead', {}, el('tr', {}, ['col_refund', 'col_case', 'amount', 'kind', 'reason_code', 'col_evidence', 'col_status', 'col_requested_by', 'col_decide'].map((k) => el('th', { scope: 'col', text: t(k) })))),
      el('tbody', {}, refunds.map((r) => el('tr', { 'data-refund': r.id },
        el('td', { text: r.id.slice(0, 8) }), el('td', {}, el('a', { href: '#/case/' + r.case_id, text: r.case_id.slice(0, 8) })),
        el('td', { text: r.amount + ' ' + r.currency }), el('td', { text: code('kind_', r.kind) }), el('td', { text: r.reason_code }),
        el('td', { class: 'evidence' }, evidenceList(r)),
        el('td', { text: code('status_', r.status) }), el('td', { text: r.requested_by || '—' }),
        el('td', {}, el('button', { type: 'button', class: 'approve', onclick: () => decide(r, true) }, t('approve')), ' ',
          el('button', { type: 'button', class: 'reject', onclick: () => decide(r, false) }, t('reject'))))))));
  }
  return page;
}

// evidenceList shows a refund's evidence: a file of its case as a download
// (the staff's view of the case decides who may open it), any other
// reference as text.
function evidenceList(r) {
  const refs = r.evidence || [];
  if (!refs.length) return '—';
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  return el('ul', { class: 'evidence-list' }, refs.map((e) => el('li', {}, uuid.test(e)
    ? el('a', { href: '/v1/cases/' + r.case_id + '/attachments/' + e, download: '', 'data-attachment': e, text: t('file') + ' ' + e.slice(0, 8) })
    : el('span', { text: e }))));
}

function decide(r, approve) {
  const body = { approve };
  if (!approve) body.reason = 'rejected_by_reviewer';
  act(() => api('POST', '/v1/refunds/' + r.id + '/decide', body, { stepUp: 'money' }), approve ? t('approved') : t('rejected'));
}

async function statsView() {
  const s = await api('GET', '/v1/stats');
  const pct = (v) => (v === null || v === undefined ? '—' : Math.round(v * 100) + '%');
  const secs = (v) => (v === null || v === undefined ? '—' : v < 120 ? Math.round(v) + ' s' : Math.round(v / 60) + ' min');
  const page = el('section', { 'aria-labelledby': 'stats-title' }, el('h1', { id: 'stats-title', text: t('nav_stats') }),
    el('p', { class: 'muted', text: t('stats_period', { from: when(s.from), to: when(s.to) }) }),
    el('div', { class: 'cards' },
      card(t('ai_share'), pct(s.ai_resolved_share), bar(s.ai_resolved_share)),
      card(t('breach_rate'), pct(s.sla_breach_rate), bar(s.sla_breach_rate, true)),
      card(t('csat'), s.csat_average ? s.csat_average.toFixed(2) + ' / 5 (' + s.csat_count + ')' : '—', bar(s.csat_average ? s.csat_average / 5 : null)),
      card(t('cases_opened'), String(s.cases_opened), null)),
    el('h2', { text: t('first_response') }),
    bars([[t('first_response_ai'), s.first_response_ai_p50_seconds], [t('first_response_human'), s.first_response_human_p50_seconds]], secs, 'first-response'),
    el('h2', { text: t('escalation_reasons') }),
    bars(Object.entries(s.escalations || {}).map(([k, v]) => [code('reason_', k), v]), String, 'escalations'),
    el('h2', { text: t('csat_by_handler') }),
    bars((s.csat_by_handler || []).map((g) => [t('handler_' + g.key) + ' (' + g.count + ')', g.average]), (v) => v.toFixed(2), 'csat-handler'),
    el('h2', { text: t('csat_by_agent') }),
    bars((s.csat_by_agent || []).map((g) => [g.key + ' (' + g.count + ')', g.average]), (v) => v.toFixed(2), 'csat-agent'),
    el('h2', { text: t('csat_comments') }),
    (s.csat_comments || []).length
      ? el('ul', { id: 'csat-comments' }, s.csat_comments.map((c) => el('li', {}, el('strong', { text: c.score + '/5 ' }),
        c.erased ? el('em', { text: t('erased') }) : c.comment, ' ', el('a', { href: '#/case/' + c.case_id, text: c.case_id.slice(0, 8) }))))
      : el('p', { class: 'empty', text: t('no_data') }));
  return page;
}

function card(label, value, chart) {
  return el('div', { class: 'card' }, el('span', { class: 'label', text: label }), el('strong', { text: value }), chart);
}

function bar(v, bad) {
  if (v === null || v === undefined) return null;
  return svg('svg', { width: 160, height: 10, viewBox: '0 0 160 10', role: 'img', 'aria-label': Math.round(v * 100) + '%' },
    svg('rect', { x: 0, y: 0, width: 160, height: 10, class: 'track' }), svg('rect', { x: 0, y: 0, width: Math.max(0, Math.min(1, v)) * 160, height: 10, class: bad ? 'fill bad' : 'fill' }));
}

// bars draws a horizontal bar chart of [label, value] rows.
function bars(rows, fmt, id) {
  rows = rows.filter((r) => r[1] !== null && r[1] !== undefined);
  if (!rows.length) return el('p', { class: 'empty', text: t('no_data') });
  const max = Math.max(...rows.map((r) => r[1]), 1);
  const rowH = 26, w = 560, labelW = 200;
  return svg('svg', { id, class: 'bars', width: w, height: rows.length * rowH, viewBox: `0 0 ${w} ${rows.length * rowH}`, role: 'img', 'aria-label': rows.map((r) => r[0] + ': ' + fmt(r[1])).join('; ') },
    rows.map((r, i) => [
      svg('text', { x: 0, y: i * rowH + 17 }, r[0]),
      svg('rect', { x: labelW, y: i * rowH + 4, height: 18, width: ((w - labelW - 80) * r[1]) / max, class: 'fill' }),
      svg('text', { x: labelW + ((w - labelW - 80) * r[1]) / max + 6, y: i * rowH + 17 }, fmt(r[1]))]));
}

// auditView: search cases, read a trail in order, verify the chain, export
// a signed trail, legal holds. Read-only.
async function auditView() {
  const [, , caseID] = location.hash.split('/');
  const q = el('input', { id: 'search-customer', type: 'search', placeholder: t('customer_ref'), 'aria-label': t('customer_ref') });
  const results = el('div', { id: 'search-results' });
  const search = async (ev) => {
    ev?.preventDefault();
    try {
      const list = await api('GET', '/v1/cases?limit=50' + (q.value.trim() ? '&customer_ref=' + encodeURIComponent(q.value.trim()) : ''));
      results.replaceChildren(caseTable(list.cases, ['subject', 'customer', 'status', 'opened']));
      for (const a of results.querySelectorAll('a[href^="#/case/"]')) a.href = a.href.replace('#/case/', '#/audit/');
    } catch (e) { say(e.message, 'error'); }
  };
  const verdict = el('div', { id: 'verify-result', role: 'status' });
  const page = el('section', { 'aria-labelledby': 'audit-title' }, el('h1', { id: 'audit-title', text: t('nav_audit') }),
    el('div', { class: 'row' }, el('button', { type: 'button', id: 'verify', onclick: async () => {
      verdict.textContent = t('verifying');
      try {
        const v = await api('GET', '/v1/audit/verify');
        verdict.className = v.ok ? 'verdict ok' : 'verdict broken';
        verdict.textContent = v.ok ? t('chain_ok', { checked: v.checked, checkpoints: v.checkpoints }) : t('chain_broken', { at: v.broken_at, problem: v.problem });
      } catch (e) { verdict.className = 'verdict broken'; verdict.textContent = e.message; }
    } }, t('verify_chain'))), verdict,
    el('form', { class: 'row', role: 'search', onsubmit: search }, q, el('button', { type: 'submit', text: t('search') })), results);
  if (caseID) page.append(await trailPanel(caseID));
  if (can('legal_hold.read')) page.append(await holdsPanel());
  if (!caseID) search();
  return page;
}

async function trailPanel(id) {
  let entries = [];
  let after = 0;
  let c = null;
  for (let i = 0; i < 20; i++) { // pages of the trail, in chain order
    const page = await api('GET', '/v1/cases/' + encodeURIComponent(id) + '/trail?limit=200' + (after ? '&after=' + after : ''));
    c = page.case;
    entries = entries.concat(page.trail);
    if (!page.next_after) break;
    after = page.next_after;
  }
  const format = el('select', { id: 'export-format', 'aria-label': t('export_format') },
    el('option', { value: 'jsonl', text: 'JSON Lines' }), el('option', { value: 'csv', text: 'CSV' }));
  const exportBtn = el('button', { type: 'button', id: 'export', onclick: async () => {
    try {
      const res = await api('GET', '/v1/cases/' + encodeURIComponent(id) + '/trail/export?format=' + format.value, undefined, { raw: true, stepUp: 'records' });
      const url = URL.createObjectURL(await res.blob());
      el('a', { href: url, download: 'trail-' + id + '.' + format.value }).click();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      say(t('exported'), 'ok');
    } catch (e) { say(e.message, 'error'); }
  } }, t('export_trail'));
  return el('section', { class: 'trail', 'aria-labelledby': 'trail-title' },
    el('h2', { id: 'trail-title', text: t('trail_of', { subject: c.subject || c.id }) }),
    el('p', { class: 'muted', text: t('trail_note', { n: entries.length }) }), el('div', { class: 'row' }, format, exportBtn),
    el('ol', { id: 'trail' }, entries.map((e) => {
      const ev = e.event;
      let details = {};
      try { details = JSON.parse(ev.details); } catch { /* shown as it is */ }
      const prov = ev.actor_kind === 'ai' || details.engine ? t('ai_provenance', { engine: details.engine || '—', model: details.model || '—', article: details.article_id || '—' }) : '';
      return el('li', { 'data-seq': ev.seq, class: ev.decision === 'deny' ? 'deny' : '' },
        el('span', { class: 'seq', text: '#' + ev.seq }), ' ', el('strong', { text: ev.action }), ' · ',
        code('actor_', ev.actor_kind), ' ', ev.actor_id, ' · ', when(ev.occurred_at),
        ev.reason ? ' · ' + ev.reason : '', prov ? el('div', { class: 'muted', text: prov }) : null,
        e.message ? el('blockquote', { text: e.message.erased ? t('erased') : e.message.body }) : null);
    })));
}

async function holdsPanel() {
  const holds = (await api('GET', '/v1/legal-holds')).legal_holds || [];
  return el('section', { 'aria-labelledby': 'holds-title' }, el('h2', { id: 'holds-title', text: t('legal_holds') }),
    holds.length ? el('ul', { id: 'holds' }, holds.map((h) => el('li', { text: [h.case_id || t('a_customer'), h.reason, h.released_at ? t('released_at', { at: when(h.released_at) }) : t('active')].join(' · ') })))
      : el('p', { class: 'empty', text: t('no_holds') }));
}

async function securityView() {
  const out = el('div', { id: 'enrol-result' });
  const codeIn = el('input', { id: 'confirm-code', inputmode: 'numeric', maxlength: 6, pattern: '[0-9]{6}', 'aria-label': t('stepup_code') });
  return el('section', { 'aria-labelledby': 'sec-title' }, el('h1', { id: 'sec-title', text: t('nav_security') }),
    el('p', { text: t('enrol_note') }),
    el('button', { type: 'button', id: 'enrol', onclick: async () => {
      try {
        const r = await api('POST', '/v1/auth/totp/enrol');
        out.replaceChildren(el('p', { text: t('enrol_add') }), el('code', { id: 'otpauth', text: r.otpauth_url }));
      } catch (e) { say(e.message, 'error'); }
    } }, t('enrol')), out,
    el('form', { class: 'row', onsubmit: (ev) => { ev.preventDefault(); act(() => api('POST', '/v1/auth/totp/confirm', { code: codeIn.value.trim() }), t('confirmed')); } },
      el('label', {}, t('stepup_code'), ' ', codeIn), el('button', { type: 'submit', id: 'confirm-totp', text: t('confirm') })));
}

// --- live updates ----------------------------------------------------------

// startEvents follows the event stream: a change to a case the page shows,
// or a new offer, redraws it (at most every half second).
function startEvents() {
  stopEvents();
  if (!can('event.stream')) return;
  const es = new EventSource('/v1/events');
  let pending = null;
  const redraw = () => {
    if (pending) return;
    pending = setTimeout(async () => {
      pending = null;
      const [, view] = location.hash.split('/');
      if (['work', 'supervise', 'approvals', 'case'].includes(view) && !document.querySelector('dialog[open]') && !isTyping()) await render();
    }, 500);
  };
  es.onmessage = redraw;
  for (const type of ['case.opened', 'case.escalated', 'case.assigned', 'case.waiting_on_customer', 'case.resolved', 'case.closed',
    'message.created', 'sla.warning', 'sla.breached', 'refund.requested', 'refund.decided', 'refund.paid', 'refund.failed']) {
    es.addEventListener(type, redraw);
  }
  state.events = es;
}

function isTyping() {
  const a = document.activeElement;
  return a && (a.tagName === 'TEXTAREA' || (a.tagName === 'INPUT' && a.value));
}

function stopEvents() { state.events?.close(); state.events = null; }

// --- start -----------------------------------------------------------------

document.addEventListener('DOMContentLoaded', async () => {
  setLang(localStorage.getItem('tandem.lang') || (navigator.language.startsWith('zh') ? (/TW|HK|Hant/.test(navigator.language) ? 'zh-Hant' : 'zh-Hans') : 'en'));
  document.getElementById('lang').addEventListener('change', (ev) => { setLang(ev.target.value); if (state.session) { buildNav(); render(); } else signIn(); });
  document.getElementById('signout').addEventListener('click', async () => {
    try { await api('POST', '/console/auth/logout'); } catch { /* signed out either way */ }
    state.session = null;
    location.hash = '';
    signIn();
  });
  window.addEventListener('hashchange', render);
  try {
    state.session = await api('GET', '/console/auth/session');
    await started();
  } catch {
    await signIn();
  }
});
