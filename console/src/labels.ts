// The names of enum values and reason codes in both languages: [English, Chinese].

import { Severity } from "./gen/onsite/v1/common_pb";
import { EngineerStatus } from "./gen/onsite/v1/engineers_pb";
import { SlipState, VisitKind } from "./gen/onsite/v1/slips_pb";
import { Category, Channel } from "./gen/onsite/v1/tickets_pb";

type Table = Record<string, [string, string]>;

export const slipStates: Table = {
  [SlipState.DRAFT]: ["Draft", "草稿"],
  [SlipState.VERIFIED]: ["Verified", "已审核"],
  [SlipState.DISPATCHED]: ["Dispatched", "已派工"],
  [SlipState.DECLINED]: ["Declined", "已拒绝"],
  [SlipState.CONFIRMED]: ["Confirmed", "已确认"],
  [SlipState.SCHEDULED]: ["Scheduled", "已预约"],
  [SlipState.EN_ROUTE]: ["En route", "在途"],
  [SlipState.ON_SITE]: ["On site", "在现场"],
  [SlipState.COMPLETED]: ["Completed", "已完成"],
  [SlipState.WRITTEN_OFF]: ["Written off", "已核销"],
  [SlipState.CANCELLED]: ["Cancelled", "已取消"],
};

export const severities: Table = {
  [Severity.URGENT]: ["Urgent", "紧急"],
  [Severity.IMPORTANT]: ["Important", "重要"],
  [Severity.GENERAL]: ["General", "一般"],
};

export const engineerStatuses: Table = {
  [EngineerStatus.AVAILABLE]: ["Available", "空闲"],
  [EngineerStatus.BUSY]: ["Busy", "忙碌"],
  [EngineerStatus.OFF]: ["Off", "休息"],
};

/** Why SuggestEngineers left a close engineer out. */
export const exclusionReasons: Table = {
  STATUS_OFF: ["Off duty", "不在岗"],
  MISSING_SKILL: ["Missing a required skill", "缺少所需技能"],
  TIER_TOO_LOW: ["Tier too low", "级别不够"],
  OFF_SHIFT: ["Not on shift in the window", "预约时段不在班"],
  DOUBLE_BOOKED: ["Already booked in the window", "该时段已有预约"],
  OVERLOADED: ["Too many open slips", "手上工单过多"],
};

export const channels: Table = {
  [Channel.HOTLINE]: ["Hotline", "热线电话"],
  [Channel.WEB_PORTAL]: ["Web portal", "网站"],
  [Channel.EMAIL]: ["E-mail", "邮件"],
  [Channel.CHAT]: ["Chat", "在线客服"],
  [Channel.REMOTE_SESSION]: ["Remote session", "远程支持"],
  [Channel.ON_SITE]: ["On site", "现场"],
};

export const categories: Table = {
  [Category.BUG]: ["Fault", "故障"],
  [Category.CHANGE_REQUEST]: ["Change request", "变更需求"],
  [Category.OTHER]: ["Other", "其他"],
};

export const visitKinds: Table = {
  [VisitKind.REPAIR]: ["Repair", "维修"],
  [VisitKind.INSTALLATION]: ["Installation and commissioning", "安装调试"],
  [VisitKind.MAINTENANCE]: ["Maintenance", "维护保养"],
};

/** Slips still to be worked on: the board shows these. */
export const openStates: SlipState[] = [
  SlipState.DRAFT,
  SlipState.VERIFIED,
  SlipState.DISPATCHED,
  SlipState.DECLINED,
  SlipState.CONFIRMED,
  SlipState.SCHEDULED,
  SlipState.EN_ROUTE,
  SlipState.ON_SITE,
];
