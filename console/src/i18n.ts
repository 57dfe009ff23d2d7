// Simplified Chinese and English, and times in the team's time zone (which the server puts
// into the page), whatever zone the browser is in.

import { type Timestamp, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";

export type Lang = "zh-CN" | "en";

const en = {
  title: "Onsite dispatch console",
  signIn: "Sign in",
  signOut: "Sign out",
  login: "Login",
  password: "Password",
  token: "API token",
  orToken: "Or sign in with an API token",
  signedInAs: "Signed in as",
  language: "中文",
  board: "Board",
  intake: "New ticket",
  schedule: "Schedule",
  live: "Live",
  reconnecting: "Reconnecting…",
  loading: "Loading…",
  openSlips: "Open slips",
  engineers: "Engineers",
  map: "Map",
  ticket: "Ticket",
  customer: "Customer",
  severity: "Severity",
  state: "State",
  appointment: "Appointment",
  sla: "SLA",
  engineer: "Engineer",
  status: "Status",
  load: "Load",
  skills: "Skills",
  skill: "Skill",
  any: "Any",
  filterEngineers: "Find engineer",
  showing: "Showing {shown} of {total}",
  select: "Open",
  selected: "Selected slip",
  noSelection: "Select a slip on the board or the map.",
  suggestions: "Suggestions",
  distance: "Distance",
  travel: "Travel (straight line)",
  assign: "Assign",
  autoAssign: "Auto-assign the best",
  assignOther: "Or assign to",
  excluded: "Nearby but left out",
  reason: "Reason",
  noSuggestions: "No suitable engineer within {km} km.",
  searchRadius: "Searched within {km} km{urgent}.",
  urgentWidened: ", widened for urgency",
  book: "Book a window",
  reschedule: "Reschedule",
  start: "Start",
  end: "End",
  contact: "Customer contact who agreed",
  rescheduleReason: "Why it moves",
  customerInformed: "Customer informed in advance",
  save: "Save",
  verify: "Verify",
  done: "Done",
  breached: "breached",
  respondIn: "respond in",
  resolveIn: "resolve in",
  responseOverdue: "response overdue by",
  resolutionOverdue: "resolution overdue by",
  unassigned: "Unassigned",
  doubleBooked: "Double booked: {engineer} already has {ticket} from {start} to {end}.",
  ticketTitle: "Title",
  channel: "Channel",
  category: "Category",
  contactName: "Contact name",
  contactPhone: "Contact phone",
  organisation: "Organisation",
  product: "Installed product",
  productModel: "Product model",
  serial: "Serial number",
  faultTime: "Fault occurred at",
  symptoms: "Symptoms",
  errorMessage: "Error message",
  impact: "Impact scope",
  urgency: "Initial urgency",
  createTicket: "Create ticket",
  ticketCreated: "Ticket {number} created.",
  createSlip: "Create a dispatch slip",
  site: "Site",
  instructions: "Solution plan and instructions",
  requiredSkills: "Required skills (comma separated)",
  kind: "Visit kind",
  slipCreated: "Slip created for {number}. Verify it to dispatch.",
  slipVerified: "Slip verified: it is on the board.",
  day: "Day",
  week: "Week",
  date: "Date",
  shift: "Shift",
  daysOff: "Days off",
  dayOff: "Day off",
  noAppointments: "No appointments.",
  previous: "Previous",
  next: "Next",
  none: "—",
  signInFailed: "Sign-in failed: {message}",
  sessionEnded: "Your session ended ({message}). Please sign in again.",
  error: "Error",
  km: "km",
  min: "min",
  assigned: "Assigned to {engineer}.",
  booked: "Window booked.",
  choose: "Choose…",
};

type Key = keyof typeof en;

const zh: Record<Key, string> = {
  title: "Onsite 派工台",
  signIn: "登录",
  signOut: "退出",
  login: "账号",
  password: "密码",
  token: "API 令牌",
  orToken: "或使用 API 令牌登录",
  signedInAs: "当前用户",
  language: "English",
  board: "看板",
  intake: "新建工单",
  schedule: "排班",
  live: "实时",
  reconnecting: "正在重新连接…",
  loading: "加载中…",
  openSlips: "未完成派工单",
  engineers: "工程师",
  map: "地图",
  ticket: "工单",
  customer: "客户",
  severity: "级别",
  state: "状态",
  appointment: "预约",
  sla: "SLA",
  engineer: "工程师",
  status: "状态",
  load: "负荷",
  skills: "技能",
  skill: "技能",
  any: "全部",
  filterEngineers: "查找工程师",
  showing: "显示 {shown} / {total}",
  select: "打开",
  selected: "当前派工单",
  noSelection: "在看板或地图上选择一张派工单。",
  suggestions: "推荐工程师",
  distance: "距离",
  travel: "路程（直线估算）",
  assign: "派工",
  autoAssign: "自动派给最佳人选",
  assignOther: "或指定工程师",
  excluded: "附近但未推荐",
  reason: "原因",
  noSuggestions: "{km} 公里内没有合适的工程师。",
  searchRadius: "搜索半径 {km} 公里{urgent}。",
  urgentWidened: "（紧急，已扩大）",
  book: "预约时间",
  reschedule: "改约",
  start: "开始",
  end: "结束",
  contact: "确认预约的客户联系人",
  rescheduleReason: "改约原因",
  customerInformed: "已提前告知客户",
  save: "保存",
  verify: "审核",
  done: "完成",
  breached: "已超时",
  respondIn: "响应剩余",
  resolveIn: "解决剩余",
  responseOverdue: "响应已超时",
  resolutionOverdue: "解决已超时",
  unassigned: "未派工",
  doubleBooked: "时间冲突：{engineer} 在 {start} 至 {end} 已有工单 {ticket}。",
  ticketTitle: "标题",
  channel: "来源渠道",
  category: "类别",
  contactName: "联系人",
  contactPhone: "联系电话",
  organisation: "单位",
  product: "已安装产品",
  productModel: "产品型号",
  serial: "序列号",
  faultTime: "故障发生时间",
  symptoms: "故障现象",
  errorMessage: "错误信息",
  impact: "影响范围",
  urgency: "初判紧急程度",
  createTicket: "创建工单",
  ticketCreated: "工单 {number} 已创建。",
  createSlip: "创建派工单",
  site: "现场",
  instructions: "解决方案与作业说明",
  requiredSkills: "所需技能（逗号分隔）",
  kind: "服务类型",
  slipCreated: "已为 {number} 创建派工单，审核后即可派工。",
  slipVerified: "派工单已审核，已进入看板。",
  day: "日",
  week: "周",
  date: "日期",
  shift: "班次",
  daysOff: "休息日",
  dayOff: "休息",
  noAppointments: "没有预约。",
  previous: "上一页",
  next: "下一页",
  none: "—",
  signInFailed: "登录失败：{message}",
  sessionEnded: "会话已结束（{message}），请重新登录。",
  error: "错误",
  km: "公里",
  min: "分钟",
  assigned: "已派给 {engineer}。",
  booked: "预约已保存。",
  choose: "请选择…",
};

let lang: Lang = navigator.language.startsWith("zh") ? "zh-CN" : "en";

export function currentLang(): Lang {
  return lang;
}

export function setLang(next: Lang): void {
  lang = next;
  document.documentElement.lang = next;
}

/** The text for `key`, with `{name}` placeholders filled in. */
export function t(key: Key, values: Record<string, string | number> = {}): string {
  const text = (lang === "en" ? en : zh)[key];
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? ""));
}

/** Labels of enum values and reason codes, by language. */
export function label(table: Record<string, [string, string]>, value: string | number): string {
  const entry = table[String(value)];
  return entry ? entry[lang === "en" ? 0 : 1] : String(value);
}

/** The team's time zone, from the page the server served. */
export const zone: string =
  document.querySelector<HTMLMetaElement>('meta[name="onsite-time-zone"]')?.content || "UTC";

const formats = new Map<string, Intl.DateTimeFormat>();

function format(options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${lang}|${JSON.stringify(options)}`;
  let f = formats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(lang, { timeZone: zone, hourCycle: "h23", ...options });
    formats.set(key, f);
  }
  return f;
}

/** "11/30 14:00" style: date and time in the team's zone. */
export function dateTime(at: Timestamp | Date | undefined): string {
  if (!at) return t("none");
  const d = at instanceof Date ? at : timestampDate(at);
  return format({ month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(d);
}

export function time(at: Timestamp | Date): string {
  const d = at instanceof Date ? at : timestampDate(at);
  return format({ hour: "2-digit", minute: "2-digit" }).format(d);
}

export function weekdayDate(d: Date): string {
  return format({ weekday: "short", month: "2-digit", day: "2-digit" }).format(d);
}

/** The wall-clock parts of an instant in the team's zone. */
export function wall(d: Date): { year: number; month: number; day: number; hour: number; minute: number; weekday: number } {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    weekday: "short",
  }).formatToParts(d);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "0";
  const weekday = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].indexOf(get("weekday"));
  return { year: +get("year"), month: +get("month"), day: +get("day"), hour: +get("hour") % 24, minute: +get("minute"), weekday };
}

/** The instant a wall-clock time in the team's zone stands for ("2026-11-30T14:00"). */
export function fromWall(local: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(local);
  if (!m) return null;
  const asUtc = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  let guess = asUtc;
  // Twice: the offset at the guess may differ from the offset at the answer near a change.
  for (let i = 0; i < 2; i++) {
    const w = wall(new Date(guess));
    const offset = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute) - guess;
    guess = asUtc - offset;
  }
  return new Date(guess);
}

/** The value of a datetime-local input for an instant, in the team's zone. */
export function toWall(d: Date): string {
  const w = wall(d);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${w.year}-${p(w.month)}-${p(w.day)}T${p(w.hour)}:${p(w.minute)}`;
}

export { timestampDate, timestampFromDate };
