// The review console's only script: a running job's progress bar updates itself, and
// the page reloads once the job has finished so its messages appear.
"use strict";

(function () {
  var section = document.querySelector("[data-progress-url]");
  if (!section) {
    return;
  }
  var bar = document.getElementById("job-progress");
  var phase = document.getElementById("job-phase");
  var url = section.getAttribute("data-progress-url");

  function show(job) {
    var done = job.copied + job.generated + job.failed;
    bar.max = Math.max(job.total, 1);
    bar.value = done;
    bar.textContent = done + " of " + job.total;
    phase.textContent = job.phase + ": " + done + " of " + job.total +
      " segments (copied " + job.copied + ", generated " + job.generated +
      ", failed " + job.failed + ")";
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) {
          window.location.assign("/console/sign-in?expired=1");
          return null;
        }
        return response.ok ? response.json() : null;
      })
      .then(function (job) {
        if (!job) {
          return;
        }
        show(job);
        if (job.phase === "Completed" || job.phase === "Failed") {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 3000);
      });
  }

  window.setTimeout(poll, 500);
})();
