// Upload the chosen files one by one: PUT streams each file's body to the JSON API.
"use strict";
(function () {
  const form = document.getElementById("upload");
  if (!form) return;
  const input = document.getElementById("upload-files");
  const progress = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");

  function target(name) {
    const folder = form.dataset.folder.replace(/\/$/, "");
    const path = (folder + "/" + name).replace(/^\//, "");
    return "/api/files/" + path.split("/").map(encodeURIComponent).join("/");
  }

  function send(file) {
    return new Promise(function (resolve, reject) {
      const request = new XMLHttpRequest();
      request.open("PUT", target(file.name));
      request.setRequestHeader("Content-Type", "application/octet-stream");
      request.upload.onprogress = function (event) {
        if (event.lengthComputable) progress.value = event.loaded / event.total;
      };
      request.onload = function () {
        if (request.status === 201) resolve();
        else reject(new Error(file.name + ": " + request.status + " " + request.responseText));
      };
      request.onerror = function () { reject(new Error(file.name + ": network error")); };
      request.send(file);
    });
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    progress.hidden = false;
    try {
      for (const file of input.files) {
        status.textContent = "Uploading " + file.name + "…";
        progress.value = 0;
        await send(file);
      }
      status.textContent = "Uploaded.";
      window.location.reload();
    } catch (error) {
      status.textContent = "Upload failed: " + error.message;
    }
  });
})();
