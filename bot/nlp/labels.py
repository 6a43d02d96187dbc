"""The message taxonomy (DESIGN.md §1) and the Chinese names staff and residents read."""

INTENTS = ("request", "complaint", "inquiry", "other")
CATEGORIES = (
    "repair", "property", "environment", "order", "safety",
    "dispute", "health", "welfare", "policy", "other", "none",
)
URGENCIES = ("emergency", "urgent", "normal")

INTENT_ZH = {
    "request": "诉求",
    "complaint": "投诉",
    "inquiry": "咨询",
    "other": "其他",
}

CATEGORY_ZH = {
    "repair": "设施报修",
    "property": "物业服务",
    "environment": "环境卫生",
    "order": "秩序管理",
    "safety": "安全隐患",
    "dispute": "矛盾纠纷",
    "health": "医疗卫生",
    "welfare": "民生帮扶",
    "policy": "政策办事",
    "other": "其他事项",
    "none": "无",
}

URGENCY_ZH = {
    "emergency": "紧急",
    "urgent": "加急",
    "normal": "一般",
}
