// Training page: follow the running job live (poll its row every second), reload when it ends.
"use strict";
(function () {
  var running = document.querySelector('.job[data-state="queued"], .job[data-state="validating"], ' +
                                      '.job[data-state="training"], .job[data-state="evaluating"]');
  if (!running) { return; }
  var id = running.getAttribute("data-id");
  function poll() {
    fetch("/api/training/job?id=" + encodeURIComponent(id), {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (job) {
        running.querySelector(".state").textContent = job.state;
        running.querySelector("progress").value = job.progress || 0;
        document.getElementById("log-" + id).textContent = job.log;
        if (job.state === "done" || job.state === "failed") { window.location.reload(); return; }
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  poll();
})();
