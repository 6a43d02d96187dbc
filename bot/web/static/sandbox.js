// Sandbox chat page: one WebSocket, one window per configured group.
(function () {
  "use strict";
  const who = document.getElementById("who");
  const status = document.getElementById("status");
  const windows = new Map();
  const privateWindow = document.getElementById("window-private");
  let me = "";  // "direct:<chat id>" of whoever this visitor is; set by the server's welcome
  document.querySelectorAll(".window").forEach(function (el) {
    if (el !== privateWindow) windows.set(el.dataset.topic, el);
  });
  who.value = localStorage.getItem("gridbot.sandbox.name") || "";
  who.addEventListener("change", function () {
    localStorage.setItem("gridbot.sandbox.name", who.value.trim());
    privateWindow.querySelector(".messages").textContent = "";  // another person: another private chat
    seen.forEach(function (key) { if (me && key.indexOf(me + "|") === 0) seen.delete(key); });
    me = "";
    hello();
  });
  function hello() {
    if (ws && ws.readyState === WebSocket.OPEN && who.value.trim()) {
      ws.send(JSON.stringify({ type: "hello", name: who.value.trim() }));
    }
  }
  document.getElementById("jump").addEventListener("change", function (e) {  // "private" or a group index
    document.getElementById("window-" + e.target.value).scrollIntoView({ behavior: "smooth" });
  });

  let ws = null;
  const seen = new Set();

  function render(bubble) {
    const el = bubble.window && bubble.window === me ? privateWindow : windows.get(bubble.window);
    if (!el || seen.has(bubble.window + "|" + bubble.id)) return;
    seen.add(bubble.window + "|" + bubble.id);
    const li = document.createElement("li");
    li.className = "msg" + (bubble.is_bot ? " bot" : "") + (!bubble.is_bot && bubble.from === who.value.trim() ? " mine" : "");
    const name = document.createElement("span");
    name.className = "who";
    name.textContent = bubble.from;
    const text = document.createElement("div");
    text.className = "bubble";
    text.textContent = bubble.text;  // resident words are never HTML
    li.appendChild(name);
    li.appendChild(text);
    const list = el.querySelector(".messages");
    list.appendChild(li);
    list.scrollTop = list.scrollHeight;
  }

  function showError(el, message) {
    let box = el.querySelector(".error");
    if (!box) {
      box = document.createElement("div");
      box.className = "error";
      el.insertBefore(box, el.querySelector(".composer"));
    }
    box.textContent = message;
    setTimeout(function () { box.textContent = ""; }, 4000);
  }

  let lastWindow = null;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(scheme + location.host + "/sandbox/ws");
    ws.onopen = function () { status.textContent = "已连接"; status.classList.remove("down"); hello(); };
    ws.onclose = function () {
      status.textContent = "连接断开，正在重连…"; status.classList.add("down");
      setTimeout(connect, 2000);
    };
    ws.onmessage = function (event) {
      const data = JSON.parse(event.data);
      if (data.type === "welcome") {
        if (data.me) me = data.me;
        Object.keys(data.history).forEach(function (w) { data.history[w].forEach(render); });
      } else if (data.type === "message") {
        render(data);
      } else if (data.type === "error" && lastWindow) {
        showError(lastWindow, data.text);
      }
    };
  }
  connect();

  document.querySelectorAll(".composer").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      const el = form.closest(".window");
      const input = form.querySelector("input");
      const name = who.value.trim();
      lastWindow = el;
      if (!name) { showError(el, "请先在页面顶部填写您的称呼"); who.focus(); return; }
      if (!input.value.trim()) return;
      if (!ws || ws.readyState !== WebSocket.OPEN) { showError(el, "还没连上，请稍候再发"); return; }
      localStorage.setItem("gridbot.sandbox.name", name);
      const id = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
      const group = el === privateWindow ? null : el.dataset.topic;
      ws.send(JSON.stringify({ type: "say", id: id, group: group, name: name, text: input.value }));
      input.value = "";
    });
  });
})();
