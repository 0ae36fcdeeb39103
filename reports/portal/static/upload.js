// Upload with a progress bar; without JavaScript the form posts normally.
(function () {
  var form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var bar = document.getElementById("progress"), text = document.getElementById("progress-text");
    var button = document.getElementById("upload");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    bar.hidden = false; button.disabled = true; text.textContent = "正在上传…";
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { bar.value = Math.round(e.loaded / e.total * 100); }
    };
    xhr.upload.onload = function () { text.textContent = "上传完成，正在校验…"; };
    xhr.onload = function () {
      if (xhr.status === 413) { text.textContent = xhr.responseText; button.disabled = false; bar.hidden = true; return; }
      document.open(); document.write(xhr.responseText); document.close();
      history.replaceState(null, "", location.pathname);
    };
    xhr.onerror = function () { text.textContent = "网络错误，请重试"; button.disabled = false; };
    xhr.send(new FormData(form));
  });
})();
