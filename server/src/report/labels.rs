//! The report's words in Simplified Chinese and English.

use onsite_proto::v1 as pb;

/// The language of a report's labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    /// Simplified Chinese, as the handbooks' forms are.
    #[default]
    ZhCn,
    En,
}

impl Lang {
    /// `zh-CN` (or `zh`) and `en`, case-insensitive.
    pub fn parse(tag: &str) -> Option<Self> {
        match tag.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh-hans" => Some(Self::ZhCn),
            "en" | "en-us" | "en-gb" => Some(Self::En),
            _ => None,
        }
    }

    /// The BCP 47 tag the PDF declares.
    pub fn tag(self) -> &'static str {
        match self {
            Self::ZhCn => "zh-CN",
            Self::En => "en",
        }
    }

    /// The word in this language: `(English, Chinese)`.
    pub fn pick(self, (en, zh): (&'static str, &'static str)) -> &'static str {
        match self {
            Self::ZhCn => zh,
            Self::En => en,
        }
    }
}

pub const TITLE: (&str, &str) = ("On-site service report", "上门服务报告");
pub const TICKET: (&str, &str) = ("Ticket", "工单号");
pub const VISIT: (&str, &str) = ("Visit", "派工单");
pub const KIND: (&str, &str) = ("Kind of visit", "服务类型");
pub const CUSTOMER: (&str, &str) = ("Customer", "客户");
pub const SITE: (&str, &str) = ("Site", "现场");
pub const ADDRESS: (&str, &str) = ("Address", "地址");
pub const CONTACT: (&str, &str) = ("Contact", "联系人");
pub const PRODUCT: (&str, &str) = ("Product", "产品型号");
pub const SERIAL: (&str, &str) = ("Serial number", "序列号");
pub const ENGINEER: (&str, &str) = ("Engineer", "服务工程师");
pub const APPOINTMENT: (&str, &str) = ("Appointment", "预约时间");
pub const ARRIVED: (&str, &str) = ("Arrived", "到达时间");
pub const SIGNED: (&str, &str) = ("Signed off", "签字时间");
pub const FAULT: (&str, &str) = ("Fault and repair", "故障与处理");
pub const REPORTED: (&str, &str) = ("Reported fault", "故障描述");
pub const CAUSE: (&str, &str) = ("Cause", "故障原因");
pub const ROOT_CAUSE: (&str, &str) = ("Cause class", "原因分类");
pub const SOLUTION: (&str, &str) = ("Solution", "解决方法");
pub const PREVENTION: (&str, &str) = ("Prevention", "预防措施");
pub const OUTCOME: (&str, &str) = ("Outcome", "处理结果");
pub const TIME_SPENT: (&str, &str) = ("Time on site", "现场工时");
pub const MINUTES: (&str, &str) = ("min", "分钟");
pub const COSTS: (&str, &str) = ("Parts and costs", "备件与费用");
pub const ITEM: (&str, &str) = ("Item", "项目");
pub const QUANTITY: (&str, &str) = ("Qty", "数量");
pub const UNIT_PRICE: (&str, &str) = ("Unit price", "单价");
pub const AMOUNT: (&str, &str) = ("Amount", "金额");
pub const PAYS: (&str, &str) = ("Who pays", "费用承担");
pub const CUSTOMER_PAYS: (&str, &str) = ("Customer", "客户");
pub const FREE: (&str, &str) = ("Free (warranty)", "保修免费");
pub const NO_COSTS: (&str, &str) = ("No parts or costs recorded.", "无备件与费用。");
pub const WARRANTY: (&str, &str) = ("Warranty", "保修");
pub const WARRANTY_LAST_DAY: (&str, &str) = ("last day", "截止日");
pub const QUOTES: (&str, &str) = ("Quotes", "报价");
pub const TOTAL_BILLABLE: (&str, &str) = ("Billable total", "客户应付合计");
pub const DATA: (&str, &str) = ("Customer data", "客户数据");
pub const BACKUP: (&str, &str) = ("Backup", "数据备份");
pub const WAIVER: (&str, &str) = ("Backup declined, signed by", "客户拒绝备份，签字人");
pub const SAVED: (&str, &str) = ("saved", "内容");
pub const TO: (&str, &str) = ("to", "存放");
pub const SIZE: (&str, &str) = ("size", "大小");
pub const BY: (&str, &str) = ("by", "执行人");
pub const VERIFIED_COPY: (&str, &str) = ("verified", "已校验");
pub const UNVERIFIED_COPY: (&str, &str) = ("not verified", "未校验");
pub const NO_BACKUP: (&str, &str) = ("No backup or waiver recorded.", "无备份或拒绝备份记录。");
pub const CUSTODY: (&str, &str) = ("Data taken off site", "数据带离现场");
pub const CUSTODY_NONE: (&str, &str) = ("No customer data left the site.", "客户数据未带离现场。");
pub const CUSTODY_SIGNED: (&str, &str) = ("authorised in writing by", "书面授权人");
pub const SIGN_OFF: (&str, &str) = ("Customer sign-off", "客户签字确认");
pub const SIGNER: (&str, &str) = ("Signed by", "签字人");
pub const SATISFACTION: (&str, &str) = ("Satisfaction", "满意度");
pub const RATINGS: (&str, &str) = ("Service / product / support", "服务 / 产品 / 支持评分");
pub const OPINION: (&str, &str) = ("Customer's opinion", "客户意见");
pub const NOT_SIGNED: (&str, &str) = ("Not signed off yet.", "客户尚未签字。");
pub const REPORT_HASH: (&str, &str) = ("Report SHA-256", "报告摘要 SHA-256");
pub const SIGNATURE_VERIFIED: (&str, &str) = ("Signature verified", "签名已验证");
pub const SIGNATURE_UNVERIFIED: (&str, &str) = ("Signature NOT verified", "签名未验证");
pub const PAGE: (&str, &str) = ("Page", "页");

pub fn visit_kind(kind: i32) -> (&'static str, &'static str) {
    match pb::VisitKind::try_from(kind) {
        Ok(pb::VisitKind::Installation) => ("Installation and commissioning", "安装调试"),
        Ok(pb::VisitKind::Maintenance) => ("Maintenance or return visit", "维护回访"),
        _ => ("Repair", "故障维修"),
    }
}

pub fn outcome(outcome: i32) -> (&'static str, &'static str) {
    match pb::FixOutcome::try_from(outcome) {
        Ok(pb::FixOutcome::Resolved) => ("Resolved", "已解决"),
        Ok(pb::FixOutcome::PartlyResolved) => ("Partly resolved", "部分解决"),
        Ok(pb::FixOutcome::Unresolved) => ("Unresolved", "未解决"),
        _ => ("-", "-"),
    }
}

pub fn root_cause(cause: i32) -> (&'static str, &'static str) {
    use pb::RootCause as C;
    match C::try_from(cause) {
        Ok(C::SoftwareDefect) => ("Software defect", "软件缺陷"),
        Ok(C::ManufacturingDefect) => ("Manufacturing defect", "制造缺陷"),
        Ok(C::AssemblyDefect) => ("Assembly defect", "装配缺陷"),
        Ok(C::MaterialDefect) => ("Material defect", "材料缺陷"),
        Ok(C::ConfigurationError) => ("Configuration", "配置问题"),
        Ok(C::OperationUsage) => ("Use or operation", "使用不当"),
        Ok(C::ThirdPartyPart) => ("Third-party part", "第三方部件"),
        Ok(C::Network) => ("Network", "网络问题"),
        Ok(C::HardwareDamage) => ("Hardware damage", "硬件损坏"),
        _ => ("Not classified", "未分类"),
    }
}

pub fn cover(cover: i32) -> (&'static str, &'static str) {
    match pb::Cover::try_from(cover) {
        Ok(pb::Cover::Free) => ("in warranty: free of charge", "保修期内：免费"),
        Ok(pb::Cover::NoWarranty) => ("no warranty on record: billable", "无保修记录：收费"),
        Ok(pb::Cover::WarrantyEnded) => ("warranty ended: billable", "已过保修期：收费"),
        Ok(pb::Cover::CauseNotCovered) => ("cause not covered: billable", "原因不在保修范围：收费"),
        _ => ("not decided yet", "尚未判定"),
    }
}

pub fn cost_kind(kind: i32) -> (&'static str, &'static str) {
    match pb::CostKind::try_from(kind) {
        Ok(pb::CostKind::Part) => ("Part", "备件"),
        Ok(pb::CostKind::Material) => ("Material", "材料"),
        Ok(pb::CostKind::Labour) => ("Labour", "人工"),
        Ok(pb::CostKind::Travel) => ("Travel", "差旅"),
        Ok(pb::CostKind::Transport) => ("Transport", "运输"),
        _ => ("Other", "其他"),
    }
}

pub fn quote_state(quote: &pb::Quote) -> (&'static str, &'static str) {
    match (quote.accepted, quote.rejected) {
        (true, _) => ("accepted", "客户已接受"),
        (_, true) => ("declined", "客户已拒绝"),
        _ => ("awaiting the customer", "待客户确认"),
    }
}

pub fn satisfaction(value: i32) -> (&'static str, &'static str) {
    match pb::Satisfaction::try_from(value) {
        Ok(pb::Satisfaction::VerySatisfied) => ("Very satisfied", "非常满意"),
        Ok(pb::Satisfaction::Satisfied) => ("Satisfied", "满意"),
        Ok(pb::Satisfaction::Average) => ("Average", "一般"),
        Ok(pb::Satisfaction::Dissatisfied) => ("Dissatisfied", "不满意"),
        _ => ("-", "-"),
    }
}
