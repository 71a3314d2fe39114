// Trainers' inbox: mark entities by selecting characters of the message (no library, no CDN).
// Each group keeps its entities as JSON in a hidden field the form submits: [{start, end, entity, value}].
"use strict";
(function () {
  function setup(group) {
    var msg = group.querySelector(".msg");
    var text = msg.getAttribute("data-text");
    var field = group.querySelector(".entities-json");
    var list = group.querySelector(".entity-list");
    var marked = JSON.parse(field.value || "[]");

    function render() {
      field.value = JSON.stringify(marked);
      list.textContent = "";
      marked.forEach(function (e, i) {
        var li = document.createElement("li");
        li.className = "entity";
        li.textContent = e.entity + "：" + text.slice(e.start, e.end) + (e.value ? " → " + e.value : "") +
          "（" + e.start + "–" + e.end + "）";
        var x = document.createElement("button");
        x.type = "button"; x.className = "x"; x.textContent = "×"; x.title = "去掉这个实体";
        x.addEventListener("click", function () { marked.splice(i, 1); render(); });
        li.appendChild(x);
        list.appendChild(li);
      });
    }

    group.querySelector(".mark-entity").addEventListener("click", function () {
      var sel = window.getSelection();
      if (!sel || sel.rangeCount === 0 || sel.isCollapsed) { alert("请先在消息里选中实体的文字"); return; }
      var range = sel.getRangeAt(0);
      if (!msg.contains(range.startContainer) || !msg.contains(range.endContainer)) {
        alert("请只选中这条消息里的文字"); return;
      }
      var start = Math.min(range.startOffset, range.endOffset);
      var end = Math.max(range.startOffset, range.endOffset);
      var overlaps = marked.some(function (e) { return start < e.end && e.start < end; });
      if (overlaps) { alert("和已标的实体重叠"); return; }
      if (text.slice(start, end).indexOf("*") >= 0) { alert("脱敏的字符不能标为实体"); return; }
      marked.push({start: start, end: end, entity: group.querySelector(".entity-name").value,
                   value: group.querySelector(".entity-value").value.trim()});
      marked.sort(function (a, b) { return a.start - b.start; });
      sel.removeAllRanges();
      render();
    });
    render();
  }
  document.querySelectorAll(".group").forEach(setup);
})();
